package dev.nvmelm.cli;

import dev.nvmelm.Await;
import dev.nvmelm.device.Subsystem;
import dev.nvmelm.embedded.DeviceServer;
import dev.nvmelm.host.sim.SimNvmeDevice;
import dev.nvmelm.nbd.NbdServer;
import dev.nvmelm.spec.IoCommands;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code migrate --source sim:D#1 --dest sim:D#2} with guests in other "processes": a sim client
 * writing through MC 1's queues, and fio through the NBD export — both keep running across the
 * switchover and end up on MC 2 with nothing lost.
 */
class SimMigrationTest {
    static final long NS_BYTES = 32 << 20;
    static final int BLOCK = 4096;
    @TempDir
    Path dir;
    DeviceServer server;

    @BeforeEach
    void start() throws Exception {
        server = DeviceServer.start(new Subsystem.Config(dir, NS_BYTES, 1, 2, BLOCK), 64 << 20, null);
    }

    @AfterEach
    void stop() throws IOException {
        server.close();
    }

    @Test
    void aClientKeepsWritingThroughTheSwitchoverAndEveryWriteLandsOnTheDestination() throws Exception {
        String mmc = server.deviceString();
        int blocks = (int) (NS_BYTES / BLOCK);
        byte[] version = new byte[blocks];   // the last value each block was written with (0 = never)
        AtomicBoolean done = new AtomicBoolean();
        AtomicInteger writes = new AtomicInteger();
        try (SimNvmeDevice guest = SimNvmeDevice.open(mmc + "#1", Duration.ofSeconds(30))) {
            MemorySegment buf = guest.allocateBuffer(BLOCK);
            Random rnd = new Random(11);
            for (int b = 0; b < blocks; b += 7) {   // some data before the migration starts
                write(guest, buf, b, version, (byte) (1 + rnd.nextInt(250)));
            }
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                Random r = new Random(12);
                try {
                    while (!done.get()) {
                        write(guest, buf, r.nextInt(blocks), version, (byte) (1 + r.nextInt(250)));
                        writes.incrementAndGet();
                        Thread.sleep(1);   // pacing the guest (at most ~1000 writes/s), not synchronisation
                    }
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            CliRunner r = CliRunner.run("migrate", "--source", mmc + "#1", "--dest", mmc + "#2", "-o", "json");
            int during = writes.get();
            // and after: the guest now runs on MC 2
            Await.until("the guest wrote 20 blocks after the migration", Duration.ofSeconds(30), () -> writes.get() >= during + 20);
            done.set(true);
            writer.get(30, TimeUnit.SECONDS);
            if (r.exit() != 0) {
                byte[] f1 = Files.readAllBytes(dir.resolve("c1n1.img")), f2 = Files.readAllBytes(dir.resolve("c2n1.img"));
                for (int b = 0; b < blocks; b++) {
                    if (f1[b * BLOCK] != f2[b * BLOCK] || f1[b * BLOCK + BLOCK - 1] != f2[b * BLOCK + BLOCK - 1]) {
                        System.err.printf("DIFF block %d: src %d/%d dst %d/%d oracle %d%n", b, f1[b * BLOCK], f1[b * BLOCK + BLOCK - 1], f2[b * BLOCK], f2[b * BLOCK + BLOCK - 1], version[b]);
                    }
                }
            }
            assertThat(r.exit()).as(r.out() + r.err()).isZero();
            assertThat(r.out()).contains("\"verified\": true");
            assertThat(writes.get()).isGreaterThan(during).isPositive();
            // read back through the guest's queues, now on MC 2, and from MC 2's namespace file
            guest.io(IoCommands.flush(1), null).orThrow("flush");
            byte[] file = Files.readAllBytes(dir.resolve("c2n1.img"));
            for (int b = 0; b < blocks; b++) {
                guest.io(IoCommands.read(1, b, 1).toSqe(), buf).orThrow("read");
                assertThat(buf.get(ValueLayout.JAVA_BYTE, BLOCK - 1)).as("block %d via the guest", b).isEqualTo(version[b]);
                assertThat(file[b * BLOCK + 17]).as("block %d in c2n1.img", b).isEqualTo(version[b]);
            }
        }
    }

    private static void write(SimNvmeDevice guest, MemorySegment buf, int block, byte[] version, byte v) throws Exception {
        synchronized (version) {
            buf.fill(v);
            guest.io(IoCommands.write(1, block, 1, false).toSqe(), buf).orThrow("write");
            version[block] = v;
        }
    }

    /** fio writes random 4 KiB blocks through the NBD export while the namespace moves; its own verify passes after. */
    @Test
    void fioThroughTheNbdExportVerifiesAcrossALiveMigration() throws Exception {
        server.device(1);   // MC 1 has a host driver (the guest's queues) even if fio is slow to write its first block
        NbdServer nbd = new NbdServer(NamespaceExports.of(server), line -> {});
        try {
            String uri = NamespaceExports.listen(nbd, "unix:" + dir.resolve("nbd.sock")).getFirst();
            Path log = dir.resolve("fio.log");
            Process fio = new ProcessBuilder("fio", "--name=guest", "--ioengine=nbd", "--uri=" + uri, "--rw=randwrite", "--bs=4k",
                    "--size=8M", "--iodepth=4", "--rate_iops=400", "--verify=crc32c", "--verify_fatal=1", "--randseed=5", "--verify_state_save=0",
                    // threads, not forked job processes: killing fio must kill all of it; and a hard cap
                    "--thread", "--runtime=120")
                    .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            try {
                // fio connected: its writes start at once, so the migration runs under them
                Await.until("fio connected to the export", Duration.ofSeconds(30), () -> {
                    assertThat(fio.isAlive()).as("fio runs").isTrue();
                    return nbd.connectionCount() > 0;
                });
                // a loaded CI machine may copy slower than fio dirties: force keeps the test about correctness
                CliRunner r = CliRunner.run("migrate", "--source", server.deviceString() + "#1", "--dest", server.deviceString() + "#2",
                        "--on-stall", "force", "-o", "json");
                assertThat(r.exit()).as(r.out() + r.err()).isZero();
                assertThat(r.out()).contains("\"verified\": true");
                assertThat(fio.isAlive()).as("the migration finished while fio was still writing").isTrue();
                assertThat(fio.waitFor(120, TimeUnit.SECONDS)).isTrue();
                String out = Files.readString(log);
                assertThat(fio.exitValue()).as(out).isZero();
                assertThat(out).doesNotContain("verify: bad").contains("guest: (groupid=0");
            } finally {
                fio.descendants().forEach(ProcessHandle::destroyForcibly);
                fio.destroyForcibly();
                fio.waitFor(10, TimeUnit.SECONDS);
            }
        } finally {
            nbd.close();
        }
    }

    /**
     * An export first used after the switchover follows the guest to MC 2, as one used before
     * does; it once tried to enable a driver on the migrated-away (suspended) MC 1.
     */
    @Test
    void anExportFirstUsedAfterTheMigrationFollowsTheGuest() throws Exception {
        SimDeviceCliTest.ok("io", "write", server.deviceString() + "#1", "-n", "1", "-s", "5", "-c", "0", "--pattern=0x6b");
        SimDeviceCliTest.ok("migrate", "--source", server.deviceString() + "#1", "--dest", server.deviceString() + "#2");
        LazyNamespace c1n1 = new LazyNamespace(server, 1, 1);
        MemorySegment buf = c1n1.allocateBuffer(BLOCK);
        c1n1.read(5L * BLOCK, buf);
        assertThat(buf.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0x6b);
        assertThat(Files.readAllBytes(dir.resolve("c2n1.img"))[5 * BLOCK]).as("on MC 2's namespace").isEqualTo((byte) 0x6b);
    }

    @Test
    void controllersOfTwoServersAreRefusedWithTheReason(@TempDir Path other) throws Exception {
        try (DeviceServer second = DeviceServer.start(new Subsystem.Config(other, NS_BYTES, 1, 2, BLOCK), 8 << 20, null)) {
            CliRunner r = CliRunner.run("migrate", "--source", server.deviceString() + "#1", "--dest", second.deviceString() + "#1");
            assertThat(r.exit()).isEqualTo(1);
            assertThat(r.err()).contains("one served subsystem").doesNotContain("Exception");
        }
        assertThat(CliRunner.run("migrate", "--source", server.deviceString() + "#1", "--dest", server.deviceString() + "#1").err())
                .contains("same controller");
        assertThat(CliRunner.run("migrate", "--source", server.deviceString(), "--dest", server.deviceString() + "#2").err())
                .contains("CNTLID >= 1");
        assertThat(CliRunner.run("migrate", "--source", server.deviceString() + "#1").err()).contains("go together");
        assertThat(CliRunner.run("migrate", "--source", server.deviceString() + "#1", "--dest", server.deviceString() + "#2",
                "--workload", "random-write:iops=10").err()).contains("--workload");
    }
}
