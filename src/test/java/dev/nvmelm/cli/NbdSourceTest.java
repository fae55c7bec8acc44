package dev.nvmelm.cli;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.embedded.DeviceServer;
import dev.nvmelm.block.FileBlockDevice;
import dev.nvmelm.migrate.copy.Copier;
import dev.nvmelm.migrate.copy.Verifier;
import dev.nvmelm.nbd.Nbd;
import dev.nvmelm.nbd.NbdBlockDevice;
import dev.nvmelm.nbd.NbdClient;
import dev.nvmelm.nbd.NbdServer;
import dev.nvmelm.nbd.NbdSourceCopy;
import dev.nvmelm.nbd.NbdUri;
import dev.nvmelm.util.FileHoles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code migrate --source NBD-URI}: storage-only copies out of real NBD servers and out of our own with nvme-lm:dirty. */
class NbdSourceTest {
    static final long SIZE = 32 << 20;
    @TempDir
    Path dir;

    /** 1 MiB of random data at 0, 9 MiB and 20 MiB; holes elsewhere. */
    Path source() throws IOException {
        Path src = dir.resolve("src.img");
        byte[] data = new byte[1 << 20];
        new Random(11).nextBytes(data);
        try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "rw")) {
            for (long at : new long[]{0, 9L << 20, 20L << 20}) {
                f.seek(at);
                f.write(data);
            }
            f.setLength(SIZE);
        }
        return src;
    }

    static String run(String... cmd) throws Exception {
        return dev.nvmelm.Procs.run(cmd);
    }

    Process qemuNbd(Path img, Path sock) throws Exception {
        return dev.nvmelm.Procs.start(List.of("qemu-nbd", "-f", "raw", "-r", "-k", sock.toString(), "-x", "s", "--persistent", "--shared=8", img.toString()), sock);
    }

    @Test
    void fromQemuNbdIntoAFileWithTheHolesKept() throws Exception {
        Path src = source(), dst = dir.resolve("dst.img"), sock = dir.resolve("q.sock");
        Process q = qemuNbd(src, sock);
        try {
            CliRunner r = CliRunner.run("migrate", "--source", "nbd+unix:///s?socket=" + sock, "--dest-image", dst.toString(), "-o", "json");
            assertThat(r.exit()).as(r.out() + r.err()).isZero();
            assertThat(r.out()).contains("\"verified\": true").contains("\"dirty_context\": \"\"").contains("\"verify_bytes_compared\": " + SIZE);
            assertThat(r.jsonLong("bytes_data_copied")).isEqualTo(3L << 20);
        } finally {
            dev.nvmelm.Procs.stop(q);
        }
        assertThat(Files.mismatch(src, dst)).isEqualTo(-1);
        assertThat(run("qemu-img", "compare", "-f", "raw", "-F", "raw", src.toString(), dst.toString())).contains("identical");
        // thin in, thin out: the destination's allocated ranges are the source's
        assertThat(FileHoles.dataRanges(dst, 0, SIZE)).isEqualTo(FileHoles.dataRanges(src, 0, SIZE));
    }

    /** 1 MiB of 0x5c at 4 MiB of the export, where the source has a hole. */
    private static void writeJunkIntoAHole(String uri) throws Exception {
        try (NbdClient c = NbdClient.connect(NbdUri.parse(uri))) {
            byte[] junk = new byte[1 << 20];
            Arrays.fill(junk, (byte) 0x5c);
            NbdClient.await(c.write(4L << 20, junk, false));
        }
    }

    @Test
    void fromQemuNbdIntoNbdkitMemoryWithTheHolesKept() throws Exception {
        Path src = source(), qs = dir.resolve("q.sock"), ks = dir.resolve("k.sock");
        Process q = qemuNbd(src, qs);
        Process k = dev.nvmelm.Procs.start(List.of("nbdkit", "--foreground", "--unix", ks.toString(), "memory", String.valueOf(SIZE)), ks);
        try {
            String dest = "nbd+unix:///?socket=" + ks;
            writeJunkIntoAHole(dest);   // the memory disk starts with junk where the source has holes: it must come out as zeroes
            CliRunner r = CliRunner.run("migrate", "--source", "nbd+unix:///s?socket=" + qs, "--dest", dest);
            assertThat(r.exit()).as(r.out() + r.err()).isZero();
            assertThat(r.out()).contains("verified      yes").contains("dirty map     none");
            assertThat(run("qemu-img", "compare", "-f", "raw", "-F", "raw", src.toString(), dest)).contains("identical");
            // nbdinfo --map: exactly the source's three data MiB are allocated at the destination (the junk was punched out)
            long data = run("nbdinfo", "--map", dest).lines().map(String::strip).filter(l -> l.endsWith("data"))
                    .mapToLong(l -> Long.parseLong(l.split("\\s+")[1])).sum();
            assertThat(data).isEqualTo(3L << 20);
        } finally {
            dev.nvmelm.Procs.stop(q);
            dev.nvmelm.Procs.stop(k);
        }
    }

    /**
     * A target whose zeroing is slow (nbdkit nozero fastzeromode=slow answers FAST_ZERO with
     * ENOTSUP): holes that already read as zeroes there are skipped, the one holding junk is zeroed.
     */
    @Test
    void slowZeroingTargetsGetZeroesOnlyWhereNeeded() throws Exception {
        Path src = source(), qs = dir.resolve("q.sock"), ks = dir.resolve("k.sock"), log = dir.resolve("nbdkit.log");
        Process q = qemuNbd(src, qs);
        Process k = dev.nvmelm.Procs.start(List.of("nbdkit", "--foreground", "--unix", ks.toString(), "--filter=log", "--filter=nozero",
                "memory", String.valueOf(SIZE), "zeromode=plugin", "fastzeromode=slow", "logfile=" + log), ks);
        try {
            String dest = "nbd+unix:///?socket=" + ks;
            writeJunkIntoAHole(dest);
            CliRunner r = CliRunner.run("migrate", "--source", "nbd+unix:///s?socket=" + qs, "--dest", dest);
            assertThat(r.exit()).as(r.out() + r.err()).isZero();
            assertThat(run("qemu-img", "compare", "-f", "raw", "-F", "raw", src.toString(), dest)).contains("identical");
        } finally {
            dev.nvmelm.Procs.stop(q);
            dev.nvmelm.Procs.stop(k);
        }
        List<String> zeroes = Files.readAllLines(log).stream().filter(l -> l.contains(" Zero id=")).toList();
        // FAST_ZERO was tried (and refused) at least once; the only plain zeroing is the hole [1 MiB, 9 MiB) holding the junk
        assertThat(zeroes).anySatisfy(l -> assertThat(l).contains("fast=1"));
        assertThat(zeroes.stream().filter(l -> l.contains("fast=0")).toList())
                .singleElement().asString().contains("offset=0x100000 count=0x800000").contains("trim=1");
    }

    /** Our own server with nvme-lm:dirty as the source: writes during the copy land in the passes, 4 KiB ones too. */
    @Test
    void fromOurOwnExportFollowingNvmeLmDirty() throws Exception {
        DeviceServer server = DeviceServer.start(new Subsystem.Config(dir.resolve("dev"), SIZE, 1, 1, 4096), 32 << 20, null);
        List<DirtyTracker> trackers = List.of(new DirtyTracker(server, 1));
        NbdServer nbd = new NbdServer(NamespaceExports.of(server, trackers), line -> {});
        try {
            String uri = NamespaceExports.listen(nbd, "unix:" + dir.resolve("nbd.sock")).getFirst();
            try (NbdClient c = NbdClient.connect(NbdUri.parse(uri))) {
                byte[] b = new byte[2 << 20];
                new Random(2).nextBytes(b);
                NbdClient.await(c.write(3L << 20, b, false));
            }
            Path dst = dir.resolve("dst.img");
            NbdClient.Options opts = new NbdClient.Options(List.of(Nbd.NVME_LM_DIRTY), l -> l, null);
            try (NbdBlockDevice src = NbdBlockDevice.open(uri, 4096, Duration.ofSeconds(30), opts);
                 NbdClient writer = NbdClient.connect(NbdUri.parse(uri));
                 FileBlockDevice d = FileBlockDevice.createOrReuse(dst, SIZE, 4096)) {
                var copy = new NbdSourceCopy(src, d, new NbdSourceCopy.Options(Nbd.NVME_LM_DIRTY, 5, Copier.Config.defaults().withDestinationIsZero(true), Verifier.Mode.FULL));
                NbdSourceCopy.Report r = copy.run(new NbdSourceCopy.Listener() {
                    @Override
                    public void afterBulk(long data, long zero) throws IOException {
                        byte[] one = new byte[4096];
                        Arrays.fill(one, (byte) 0x7e);
                        NbdClient.await(writer.write(30L << 20, one, false));          // into a hole, a range shorter than the compare unit
                        NbdClient.await(writer.write((3L << 20) + 8192, one, false));  // over copied data
                    }
                });
                assertThat(r.converged()).as(r.verdict()).isTrue();
                assertThat(r.passes()).hasSize(2);
                assertThat(r.passes().getFirst().dirtyBytes()).isEqualTo((2L << 20) + 4096);
                // 4 KiB in the hole, and the 64 KiB compare unit holding the other write
                assertThat(r.passes().getFirst().bytesRewritten()).isEqualTo(4096 + (64 << 10));
                assertThat(r.verify().ok()).isTrue();
            }
            // the CLI picks the context by itself
            CliRunner cli = CliRunner.run("migrate", "--source", uri, "--dest-image", dir.resolve("dst2.img").toString());
            assertThat(cli.exit()).as(cli.out() + cli.err()).isZero();
            assertThat(cli.out()).contains("dirty map     nvme-lm:dirty").contains("converged after 1 dirty pass");
            assertThat(Files.mismatch(dst, dir.resolve("dst2.img"))).isEqualTo(-1);
        } finally {
            nbd.close();
            for (DirtyTracker t : trackers) t.close();
            server.close();
        }
    }

    @Test
    void badSourcesAreOneLineAndExitOne() throws Exception {
        Path src = source(), sock = dir.resolve("q.sock"), dst = dir.resolve("d.img");
        Process q = qemuNbd(src, sock);
        try {
            Files.write(dir.resolve("small.img"), new byte[4096]);
            List<List<String>> bad = List.of(
                    List.of("--source", "nbd+unix:///s", "--dest-image", dst.toString()),                                  // no socket=
                    List.of("--source", "nbd+unix:///s?socket=" + dir.resolve("none.sock"), "--dest-image", dst.toString()), // nobody listens
                    List.of("--source", "nbd://127.0.0.1:1/s", "--dest-image", dst.toString()),                            // refused
                    List.of("--source", "nbd+unix:///nope?socket=" + sock, "--dest-image", dst.toString()),                // no such export
                    List.of("--source", "nbd+unix:///s?socket=" + sock, "--dest-image", dir.resolve("small.img").toString()), // size
                    List.of("--source", "nbd+unix:///s?socket=" + sock, "--dest", "sim:/x#2"),
                    List.of("--source", "nbd+unix:///s?socket=" + sock),
                    List.of("--source", "nbd+unix:///s?socket=" + sock, "--dest-image", dst.toString(), "--workload", "random-write:iops=10"),
                    List.of("--source", "nbd+unix:///s?socket=" + sock, "--dest-image", dst.toString(), "--dirty-context", "qemu:dirty-bitmap:zz"),
                    List.of("--source", "nbds://127.0.0.1:1/s", "--dest-image", dst.toString()),                          // TLS without certificates
                    List.of("--source", "nbd+unix:///s?socket=" + sock, "--dest-image", dst.toString(), "--tls-cert", "x"),  // TLS options, no nbds://
                    List.of("--source-image", src.toString(), "--dest", "nbds://127.0.0.1:1/x"),                            // TLS without certificates
                    List.of("--source-image", src.toString(), "--dest-image", dst.toString(), "--dirty-context", "none"));  // NBD sources only
            for (List<String> args : bad) {
                String[] argv = java.util.stream.Stream.concat(java.util.stream.Stream.of("migrate"), args.stream()).toArray(String[]::new);
                CliRunner r = CliRunner.run(argv);
                assertThat(r.exit()).as(args + ": " + r.err()).isEqualTo(1);
                assertThat(r.err().strip().lines()).as(args + ": " + r.err()).hasSize(1);
                assertThat(r.err()).as(args.toString()).doesNotContain("Exception");
            }
            assertThat(dst).doesNotExist();
        } finally {
            dev.nvmelm.Procs.stop(q);
        }
    }
}
