package dev.nvmelm.cli;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.embedded.DeviceServer;
import dev.nvmelm.host.sim.SimNvmeDevice;
import dev.nvmelm.nbd.NbdClient;
import dev.nvmelm.nbd.NbdServer;
import dev.nvmelm.nbd.NbdUri;
import dev.nvmelm.spec.IoCommands;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.nvmelm.nbd.NbdClient.await;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A client that touches the destination controller's export before a local served migration (a
 * destination QEMU reading sector 0 at start) breaks nothing: its reads create no I/O queues on
 * that controller, so Set Controller State still finds it empty (it failed with Invalid Field,
 * 0x4002, when the first NBD request enabled a driver there), and after the switchover the same
 * connection follows the guest and sees every write the guest had acknowledged.
 */
class EarlyDestinationClientTest {
    static final long NS_BYTES = 16 << 20;
    static final int BLOCK = 4096;
    @TempDir
    Path dir;
    DeviceServer server;
    NbdServer nbd;
    String c2n1;

    @BeforeEach
    void start() throws Exception {
        server = DeviceServer.start(new Subsystem.Config(dir, NS_BYTES, 1, 2, BLOCK), 64 << 20, null);
        nbd = new NbdServer(NamespaceExports.of(server), line -> { });
        c2n1 = NamespaceExports.listen(nbd, "unix:" + dir.resolve("nbd.sock")).get(1);
        assertThat(c2n1).contains("/c2n1?");
    }

    @AfterEach
    void stop() throws IOException {
        nbd.close();
        server.close();
    }

    @Test
    void aReaderOfTheDestinationsExportBeforeTheMigrationBreaksNothingAndFollowsTheGuest() throws Exception {
        String mmc = server.deviceString();
        int blocks = (int) (NS_BYTES / BLOCK);
        byte[] version = new byte[blocks];   // the last value each block was acknowledged with (0 = never)
        AtomicBoolean done = new AtomicBoolean();
        AtomicInteger writes = new AtomicInteger();
        try (NbdClient early = NbdClient.connect(NbdUri.parse(c2n1));
             SimNvmeDevice guest = SimNvmeDevice.open(mmc + "#1", Duration.ofSeconds(30))) {
            byte[] sector0 = new byte[BLOCK];
            await(early.read(0, sector0));   // QEMU's geometry probe on the destination
            assertThat(sector0).isEqualTo(new byte[BLOCK]);
            MemorySegment buf = guest.allocateBuffer(BLOCK);
            for (int b = 0; b < blocks; b += 5) write(guest, buf, b, version, (byte) (1 + b % 250));
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                Random r = new Random(21);
                try {
                    while (!done.get()) {
                        write(guest, buf, r.nextInt(blocks), version, (byte) (1 + r.nextInt(250)));
                        writes.incrementAndGet();
                    }
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            await(early.read(0, sector0));   // reading again while the source is written: still no queues on MC 2
            CliRunner r = CliRunner.run("migrate", "--source", mmc + "#1", "--dest", mmc + "#2", "--on-stall", "force",
                    "--max-downtime", "5000", "-o", "json");
            int during = writes.get();
            while (writes.get() < during + 20 && !writer.isDone()) Thread.onSpinWait();   // and the guest keeps writing on MC 2
            done.set(true);
            writer.get(60, TimeUnit.SECONDS);
            assertThat(r.exit()).as(r.out() + r.err()).isZero();
            assertThat(r.out()).contains("\"verified\": true");
            // the early connection now reads through the guest's queues on MC 2: every acknowledged write is there
            byte[] got = new byte[BLOCK];
            for (int b = 0; b < blocks; b++) {
                await(early.read((long) b * BLOCK, got));
                assertThat(got[BLOCK - 1]).as("block %d", b).isEqualTo(version[b]);
            }
            byte[] mine = new byte[BLOCK];
            java.util.Arrays.fill(mine, (byte) 0x77);
            await(early.write(3L * BLOCK, mine, true));   // and it may write now: MC 2 is the guest's controller
            guest.io(IoCommands.read(1, 3, 1).toSqe(), buf).orThrow("read");
            assertThat(buf.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0x77);
        }
    }

    private static void write(SimNvmeDevice guest, MemorySegment buf, int block, byte[] version, byte v) throws Exception {
        synchronized (version) {
            buf.fill(v);
            guest.io(IoCommands.write(1, block, 1, false).toSqe(), buf).orThrow("write");
            version[block] = v;
        }
    }
}
