package dev.nvmelm.cli;

import dev.nvmelm.Await;
import dev.nvmelm.device.Subsystem;
import dev.nvmelm.embedded.DeviceServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The example, command by command, against a served device; each command is its own host process in spirit. */
class SimDeviceCliTest {
    @TempDir
    Path dir;
    DeviceServer server;
    String mmc, mc1;

    @BeforeEach
    void start() throws Exception {
        server = DeviceServer.start(new Subsystem.Config(dir, 64 << 20, 1, 2, 4096), 64 << 20, null);
        mmc = server.deviceString();
        mc1 = mmc + "#1";
    }

    @AfterEach
    void stop() throws IOException {
        server.close();
    }

    static CliRunner ok(String... args) {
        CliRunner r = CliRunner.run(args);
        assertThat(r.exit()).as("%s: %s", String.join(" ", args), r.err()).isZero();
        return r;
    }

    @Test
    void theReadmeExample() {
        long cdqid = ok("lm", "create-cdq", mmc, "--size=256", "--cntlid=1", "-o", "json").jsonLong("cdqid");
        assertThat(ok("lm", "track-send", mmc, "--sel=0", "--cdqid=" + cdqid, "--start").out()).contains("Successful");
        ok("io", "write", mc1, "--namespace-id=1", "--start-block=100", "--block-count=7", "--pattern=0xab");
        CliRunner read = ok("lm", "cdq-read", mmc, "--cdqid=" + cdqid, "-o", "json");
        assertThat(read.out().replaceAll("\\s", "")).contains("\"cdqid\":" + cdqid + ",\"head\":2,\"entries\":[{\"nsid\":0,\"slba\":0,\"nlb\":0,\"esa\":1,\"lbaci\":2,\"dlba\":0},{\"nsid\":1,\"slba\":100,\"nlb\":7,\"esa\":0,\"lbaci\":0,\"dlba\":0}]");
        // consumed: a second read finds nothing new, and the head stays
        assertThat(ok("lm", "cdq-read", mmc, "--cdqid=" + cdqid).out()).contains("0 new entries, head 2");
        CliRunner bad = CliRunner.run("lm", "delete-cdq", mmc, "--cdqid=99");
        assertThat(bad.exit()).isEqualTo(1);
        assertThat(bad.err()).contains("Invalid Controller Data Queue").contains("(0x4137)");
        assertThat(bad.err().strip().lines()).hasSize(1);
    }

    @Test
    void noAdvanceAndMaxLeaveTheRestForTheNextReader() {
        long cdqid = ok("lm", "create-cdq", mmc, "--size=256", "--cntlid=1", "-o", "json").jsonLong("cdqid");
        ok("lm", "track-send", mmc, "--sel=0", "--cdqid=" + cdqid, "--start");
        for (int i = 0; i < 3; i++) ok("io", "write-zeroes", mc1, "-n", "1", "-s", String.valueOf(10 * i), "-c", "1");
        assertThat(ok("lm", "cdq-read", mmc, "--cdqid=" + cdqid, "--no-advance").out()).contains("4 new entries, head 0");
        CliRunner two = ok("lm", "cdq-read", mmc, "--cdqid=" + cdqid, "--max=2");
        assertThat(two.out()).contains("2 new entries, head 2").contains("nsid 1 slba 0 nlb 1 (2 blocks)");
        CliRunner rest = ok("lm", "cdq-read", mmc, "--cdqid=" + cdqid, "-o", "json");
        assertThat(rest.jsonLong("head")).isEqualTo(4);
        assertThat(rest.out()).contains("\"slba\": 10").contains("\"slba\": 20");
        ok("lm", "track-send", mmc, "--sel=0", "--cdqid=" + cdqid, "--stop");
        assertThat(ok("lm", "cdq-read", mmc, "--cdqid=" + cdqid).out()).contains("ESA 2 (logging stopped)");
        ok("lm", "delete-cdq", mmc, "--cdqid=" + cdqid);
        assertThat(CliRunner.run("lm", "cdq-read", mmc, "--cdqid=" + cdqid).err()).contains("0x4137");
    }

    /** The end-to-end flow of docs/spec.md through the lm commands: suspend MC 1, get its state, set it on MC 2, resume; set/get-cdq. */
    @Test
    void everyLmCommandWorksOnASimDevice() throws IOException {
        ok("io", "write", mc1, "-n", "1", "-s", "0", "-c", "0", "--pattern=1");   // MC 1 has live I/O queues
        long cdqid = ok("lm", "create-cdq", mmc, "--size=256", "--cntlid=1", "-o", "json").jsonLong("cdqid");
        ok("lm", "track-send", mmc, "--sel=0", "--cdqid=" + cdqid, "--start");
        ok("lm", "set-cdq", mmc, "--cdqid=" + cdqid, "--hp=0", "--tpt=5");
        CliRunner get = ok("lm", "get-cdq", mmc, "--cdqid=" + cdqid, "-o", "json");
        assertThat(get.out()).contains("5");
        assertThat(ok("lm", "migration-send", mmc, "--sel=0", "--stype=1", "--cntlid=1").out()).contains("Successful");
        assertThat(ok("lm", "cdq-read", mmc, "--cdqid=" + cdqid).out()).contains("ESA 3 (controller suspended)");
        Path state = dir.resolve("state.bin");
        CliRunner recv = ok("lm", "migration-recv", mmc, "--sel=0", "--cntlid=1", "--csvi=1", "--output-file", state.toString());
        assertThat(recv.out()).contains("Controller Suspended");
        assertThat(ok("lm", "migration-recv", mmc, "--sel=0", "--cntlid=1", "--csvi=1", "-o", "json").out()).contains("\"niosq\": 2");
        assertThat(ok("lm", "migration-recv", mmc, "--sel=0", "--cntlid=1").out()).contains("Controller Suspended");
        ok("lm", "migration-send", mmc, "--sel=0", "--stype=1", "--cntlid=2");   // the destination MC is suspended to receive
        ok("lm", "migration-send", mmc, "--sel=2", "--cntlid=2", "--seq-ind=3", "--csvi=1", "--input-file", state.toString());
        ok("lm", "migration-send", mmc, "--sel=1", "--cntlid=2");
        CliRunner again = CliRunner.run("lm", "migration-send", mmc, "--sel=1", "--cntlid=2");
        assertThat(again.exit()).isEqualTo(1);
        assertThat(again.err()).contains("0x413a");
        ok("lm", "migration-send", mmc, "--sel=1", "--cntlid=1");
        ok("lm", "delete-cdq", mmc, "--cdqid=" + cdqid);
    }

    /** cdq-watch: create, track, print coalesced ranges as writes land, stop, drain to ESA 2, delete. */
    @Test
    void cdqWatchPrintsWhatTheControllerWrote() throws Exception {
        java.io.StringWriter live = new java.io.StringWriter(), err = new java.io.StringWriter();
        var watch = java.util.concurrent.CompletableFuture.supplyAsync(() -> Main.run(new String[]{"lm", "cdq-watch", mmc, "--cntlid=1", "--duration=3", "-o", "json"},
                new java.io.PrintWriter(live, true), new java.io.PrintWriter(err, true)));
        try (var mc = dev.nvmelm.host.sim.SimNvmeDevice.open(mc1, java.time.Duration.ofSeconds(10))) {
            var buf = mc.allocateBuffer(4 * 4096);
            // the ESA 1 marker in the watcher's output: tracking is on
            Await.until("the watcher printed the ESA 1 marker", java.time.Duration.ofSeconds(10), () -> live.toString().contains("\"first\""));
            for (int slba : new int[]{10, 20, 30, 13}) {
                mc.io(dev.nvmelm.spec.IoCommands.write(1, slba, 2, false).toSqe(), buf.asSlice(0, 2 * 4096)).orThrow("write");
            }
        }
        int rc = watch.get(30, java.util.concurrent.TimeUnit.SECONDS);
        CliRunner r = new CliRunner(rc, live.toString(), err.toString());
        assertThat(r.exit()).as(r.err()).isZero();
        java.util.List<String> lines = r.out().lines().toList();
        assertThat(lines.getFirst()).isEqualTo("{\"marker\":\"first\",\"esa\":1,\"slot\":0}");
        assertThat(lines).contains("{\"marker\":\"stopped\",\"esa\":2,\"slot\":5}");
        java.util.BitSet seen = new java.util.BitSet();
        for (String l : lines) {
            if (!l.startsWith("{\"nsid\"")) continue;
            @SuppressWarnings("unchecked")
            var m = (java.util.Map<String, Object>) dev.nvmelm.util.Json.parse(l);
            long slba = (Long) m.get("slba");
            seen.set((int) slba, (int) (slba + (Long) m.get("nlb") + 1));   // NLB is 0's based
        }
        for (int lba : new int[]{10, 11, 13, 14, 20, 21, 30, 31}) assertThat(seen.get(lba)).as("LBA %d", lba).isTrue();
        assertThat(lines.getLast()).contains("\"entries\":6").contains("\"stopped_marker\":true");
        // the CDQ was deleted: MC 1's UDMQ slot is free again
        long again = ok("lm", "create-cdq", mmc, "--size=256", "--cntlid=1", "-o", "json").jsonLong("cdqid");
        ok("lm", "delete-cdq", mmc, "--cdqid=" + again);
    }

    @Test
    void ioRoundTripsThroughFilesAndIdCtrlShowsTheLiveMigrationFields() throws IOException {
        Path in = dir.resolve("in.bin");
        byte[] data = new byte[2 * 4096];
        for (int i = 0; i < data.length; i++) data[i] = (byte) (i * 31 + 7);
        Files.write(in, data);
        ok("io", "write", mc1, "-n", "1", "-s", "5", "-c", "1", "--data", in.toString());
        Path out = dir.resolve("out.bin");
        ok("io", "read", mc1, "-n", "1", "-s", "5", "-c", "1", "--data", out.toString());
        assertThat(Files.readAllBytes(out)).isEqualTo(data);
        ok("io", "dsm", mc1, "-n", "1", "-s", "5", "-c", "0");
        ok("io", "read", mc1, "-n", "1", "-s", "5", "-c", "0", "--data", out.toString());
        assertThat(Files.readAllBytes(out)).containsOnly((byte) 0);
        assertThat(ok("io", "read", mc1, "-n", "1", "-s", "6", "-c", "0").out()).startsWith("00000000: ");

        // nvme-cli's -z/--data-size: the bytes taken from --data (the rest of the blocks zeroes), and the read buffer's size
        ok("io", "write", mc1, "-n", "1", "-s", "8", "-c", "1", "-z", "4096", "--data", in.toString());
        Path big = dir.resolve("big.bin");
        CliRunner rounded = ok("io", "read", mc1, "-n", "1", "-s", "8", "-c", "1", "--data-size", "100", "--data", big.toString());
        assertThat(rounded.err()).contains("Rounding data size to fit block count (8192 bytes)");
        byte[] back = Files.readAllBytes(big);
        assertThat(java.util.Arrays.copyOf(back, 4096)).isEqualTo(java.util.Arrays.copyOf(data, 4096));
        assertThat(java.util.Arrays.copyOfRange(back, 4096, 8192)).containsOnly((byte) 0);
        ok("io", "read", mc1, "-n", "1", "-s", "8", "-c", "0", "-z", "8192", "--data", big.toString());
        assertThat(Files.size(big)).isEqualTo(8192);   // a larger buffer is written out whole, as nvme-cli does

        CliRunner id = ok("id-ctrl", mmc, "-o", "json");
        assertThat(id.jsonLong("cntlid")).isZero();
        assertThat(id.jsonLong("hmlms")).isEqualTo(1);
        assertThat(id.out()).contains("\"trattr\"", "\"mcudmq\"", "\"mnsudmq\"", "\"mcmr\"", "\"nmcmr\"", "\"mcdqpc\"");
        assertThat(ok("id-ctrl", mc1, "-o", "json").jsonLong("cntlid")).isEqualTo(1);
    }

    /**
     * format on a tracked MC: data gone, and cdq-read shows a range entry covering the namespace
     * (NVM Command Set, Figure 177: no "every LBA changed" entry with ESA 000b).
     */
    @Test
    void formatErasesAndIsTracked() {
        ok("io", "write", mc1, "-n", "1", "-s", "3", "-c", "0", "--pattern=0x11");
        long cdqid = ok("lm", "create-cdq", mmc, "--size=256", "--cntlid=1", "-o", "json").jsonLong("cdqid");
        ok("lm", "track-send", mmc, "--sel=0", "--cdqid=" + cdqid, "--start");
        assertThat(ok("format", mc1, "--namespace-id=1", "--ses=1").out()).contains("Success formatting namespace:1");
        assertThat(ok("io", "read", mc1, "-n", "1", "-s", "3", "-c", "0").out()).startsWith("00000000: 0000 0000");
        assertThat(ok("lm", "cdq-read", mmc, "--cdqid=" + cdqid).out()).contains("nsid 1 slba 0 nlb 16383 (16384 blocks)");
        CliRunner bad = CliRunner.run("format", mc1, "--namespace-id=1", "--lbaf=3");
        assertThat(bad.exit()).isEqualTo(1);
        assertThat(bad.err()).contains("Invalid Format").contains("(0x410a)");
        assertThat(ok("format", mc1, "--namespace-id=1", "--dry-run").out()).contains("opcode       : 80");
    }

    @Test
    void badInputGetsOneLineAndExitOne() throws IOException {
        for (String[] args : new String[][]{
                {"io", "write", mc1, "-n", "1", "-s", "0", "-c", "0"},                       // neither --data nor --pattern
                {"io", "write", mc1, "-n", "1", "-s", "0", "-c", "0", "--pattern=256"},
                {"io", "write", mc1, "-n", "1", "-s", "0", "-c", "0", "--data", dir.resolve("missing").toString()},
                {"io", "read", mc1, "-n", "9", "-s", "0", "-c", "0"},                          // no such namespace
                {"io", "read", mc1, "-n", "1", "-s", String.valueOf(1L << 40), "-c", "0"},   // past the end: LBA Out of Range
                {"io", "read", mmc + "#7", "-n", "1", "-s", "0", "-c", "0"},
                {"id-ctrl", "sim:" + dir.resolve("nope.sock")},
                {"id-ctrl", "nvme0"},
                {"id-ctrl", "/dev/nvme-does-not-exist"},                                       // Linux backend: ENOENT
                {"id-ctrl", "/dev/null"},                                                       // not an NVMe device
                {"lm", "track-send", "/dev/null", "--sel=0", "--cdqid=1", "--start"},
                {"lm", "cdq-read", mmc, "--cdqid=70000"}}) {
            CliRunner r = CliRunner.run(args);
            assertThat(r.exit()).as(String.join(" ", args) + ": " + r.err()).isEqualTo(1);
            assertThat(r.err().strip().lines()).as(r.err()).hasSize(1);
            assertThat(r.err()).doesNotContain("Exception");
        }
    }

    /** The real command in its own JVM: first line is the device string; SIGTERM stops it with exit 0. */
    @Test
    void serveRunsUntilSigtermThenExitsZero(@TempDir Path d) throws Exception {
        server.close();
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "device", "serve", "--dir", d.toString(), "--ns-size", "8M", "--migratable", "1", "--host-memory", "8M")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()));
            String first = r.readLine();
            assertThat(first).isEqualTo("sim:" + d.resolve("ctl.sock").toAbsolutePath());
            ok("io", "write", first + "#1", "-n", "1", "-s", "3", "-c", "0", "--pattern=0x7e");
            p.destroy();   // SIGTERM
            assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isZero();
            assertThat(d.resolve("ctl.sock")).doesNotExist();
            assertThat(d.resolve("hostmem")).as("host memory removed on a clean exit").doesNotExist();
            byte[] img = Files.readAllBytes(d.resolve("c1n1.img"));
            assertThat(img[3 * 4096]).isEqualTo((byte) 0x7e);
        } finally {
            p.destroyForcibly();
        }
        server = DeviceServer.start(new Subsystem.Config(dir, 64 << 20, 1, 2, 4096), 64 << 20, null);
    }

    /**
     * Issue 19 item 2: a second {@code device serve} on a served DIR was refused only after it
     * had truncated DIR/hostmem (wiping the live CDQ below) and created namespace files there.
     */
    @Test
    void aRefusedSecondServerChangesNothingInTheServedDirectory() throws Exception {
        long cdqid = ok("lm", "create-cdq", mmc, "--size=256", "--cntlid=1", "-o", "json").jsonLong("cdqid");
        ok("lm", "track-send", mmc, "--sel=0", "--cdqid=" + cdqid, "--start");
        for (int i = 0; i < 3; i++) ok("io", "write-zeroes", mc1, "-n", "1", "-s", String.valueOf(10 * i), "-c", "1");
        java.util.Map<Path, String> before = hashes(dir);
        CliRunner second = CliRunner.run("device", "serve", "--dir", dir.toString(), "--ns-size", "64M", "--migratable", "3", "--namespaces", "2");
        assertThat(second.exit()).isEqualTo(1);
        assertThat(second.err()).contains("a device server is already").doesNotContain("Exception");
        assertThat(second.err().strip().lines()).hasSize(1);
        assertThat(hashes(dir)).as("every file of DIR, and no new one").isEqualTo(before);
        assertThat(ok("lm", "cdq-read", mmc, "--cdqid=" + cdqid, "--no-advance").out()).contains("4 new entries, head 0");
        ok("io", "write-zeroes", mc1, "-n", "1", "-s", "40", "-c", "1");
        assertThat(ok("lm", "cdq-read", mmc, "--cdqid=" + cdqid, "--no-advance").out()).as("later writes are logged in step").contains("5 new entries, head 0");
    }

    /** --host-memory beyond the documented maximum is refused in one line, before DIR is touched. */
    @Test
    void hostMemoryIsBounded(@TempDir Path d) throws Exception {
        Path fresh = d.resolve("fresh");
        CliRunner r = CliRunner.run("device", "serve", "--dir", fresh.toString(), "--host-memory", "100G");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("16 GiB").doesNotContain("Exception");
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(fresh).doesNotExist();
    }

    private static java.util.Map<Path, String> hashes(Path dir) throws Exception {
        java.util.Map<Path, String> out = new java.util.TreeMap<>();
        try (var files = Files.list(dir)) {
            for (Path f : files.sorted().toList()) {
                if (!Files.isRegularFile(f)) {
                    out.put(f.getFileName(), "not a regular file");   // the socket
                    continue;
                }
                var md = java.security.MessageDigest.getInstance("SHA-256");
                try (var in = Files.newInputStream(f)) {
                    byte[] buf = new byte[1 << 20];
                    for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
                }
                out.put(f.getFileName(), java.util.HexFormat.of().formatHex(md.digest()));
            }
        }
        return out;
    }
}
