package dev.nvmelm.cli;

import dev.nvmelm.Await;
import dev.nvmelm.device.Subsystem;
import dev.nvmelm.embedded.DeviceServer;
import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.sim.SimNvmeDevice;
import dev.nvmelm.nbd.NbdClient;
import dev.nvmelm.nbd.NbdServer;
import dev.nvmelm.nbd.NbdUri;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.MigrationSendCommand;
import dev.nvmelm.spec.TrackSendCommand;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code device serve --nbd}: namespaces exported over NBD with I/O through the MC's queues,
 * checked with the real tools (nbdinfo, nbdcopy, qemu-img) and against the CDQ.
 */
class DeviceServeNbdTest {
    static final long NS_BYTES = 32 << 20;
    @TempDir
    Path dir;
    DeviceServer server;
    NbdServer nbd;
    String uri;
    final List<String> log = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        server = DeviceServer.start(new Subsystem.Config(dir, NS_BYTES, 1, 2, 4096), 32 << 20, null);
        nbd = new NbdServer(NamespaceExports.of(server), log::add);
        List<String> uris = NamespaceExports.listen(nbd, "unix:" + dir.resolve("nbd.sock"));
        assertThat(uris).hasSize(2);
        uri = uris.getFirst();
        assertThat(uri).isEqualTo("nbd+unix:///c1n1?socket=" + dir.resolve("nbd.sock").toAbsolutePath());
    }

    @AfterEach
    void stop() throws IOException {
        nbd.close();
        server.close();
    }

    static String run(String... cmd) throws Exception {
        return dev.nvmelm.Procs.run(cmd);
    }

    /** A thin image: 1 MiB of data at 0 and at 8 MiB, holes elsewhere. */
    Path image() throws IOException {
        Path f = dir.resolve("src.img");
        byte[] data = new byte[1 << 20];
        new Random(7).nextBytes(data);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(data), 0);
            ch.write(ByteBuffer.wrap(data), 8L << 20);
        }
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(NS_BYTES);   // a sparse tail (FileChannel.truncate only shrinks)
        }
        return f;
    }

    @Test
    void realToolsSeeTheNamespaceAndWritesAreLoggedByTheCdq() throws Exception {
        try (SimNvmeDevice mmc = SimNvmeDevice.open(server.deviceString(), Duration.ofSeconds(10))) {
            CdqQueue q = mmc.createCdq(1, 1024 * 32);
            mmc.admin(new TrackSendCommand(TrackSendCommand.SEL_LOG_USER_DATA, TrackSendCommand.LACT_START, q.cdqid()).toSqe(), null).orThrow("track");

            Path src = image();
            run("nbdcopy", src.toString(), uri);
            assertThat(run("qemu-img", "compare", "-f", "raw", "-F", "raw", src.toString(), uri)).contains("identical");
            assertThat(Files.mismatch(src, dir.resolve("c1n1.img"))).isEqualTo(-1);
            String map = run("nbdinfo", "--map", uri);
            assertThat(map).containsPattern("\\s+0\\s+1048576\\s+0\\s+data");
            assertThat(map).containsPattern("1048576\\s+7340032\\s+3\\s+hole,zero");
            assertThat(map).containsPattern("8388608\\s+1048576\\s+0\\s+data");
            Path back = dir.resolve("back.img");
            run("qemu-img", "convert", "-f", "raw", "-O", "raw", uri, back.toString());
            assertThat(Files.mismatch(src, back)).isEqualTo(-1);

            // every block nbdcopy wrote with data is in a logged range
            BitSet logged = new BitSet();
            for (LbaMigrationEntry e : dev.nvmelm.host.cdq.CdqRingReader.at(q, CdqQueue.Cursor.START).take(q.entryCount())) {
                if (e.lbaci() == LbaMigrationEntry.LBACI_RANGE) logged.set((int) e.slba(), (int) (e.slba() + e.blockCount()));
            }
            for (int lba : new int[]{0, 255, 2048, 2303}) assertThat(logged.get(lba)).as("LBA %d logged", lba).isTrue();
            q.close();
        }
    }

    @Test
    void requestsToASuspendedControllerWaitAndCompleteAfterResume() throws Exception {
        try (SimNvmeDevice mmc = SimNvmeDevice.open(server.deviceString(), Duration.ofSeconds(10));
             NbdClient client = NbdClient.connect(NbdUri.parse(uri))) {
            NbdClient.await(client.write(0, new byte[4096], false));   // the MC's queues are live
            mmc.admin(new MigrationSendCommand.Suspend(1, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe(), null).orThrow("suspend");
            byte[] data = new byte[4096];
            java.util.Arrays.fill(data, (byte) 0x3c);
            CompletableFuture<Void> w = client.write(4096, data, false);
            // the write reached MC 1: it waits, unfetched, in one of its SQs (Get Controller State shows it)
            var mc1 = new dev.nvmelm.migrate.state.ControllerStateMachine(mmc, 1, dev.nvmelm.migrate.state.MigState.STOP);
            Await.until("the NBD write waits in an SQ of the suspended MC", Duration.ofSeconds(10), () ->
                    dev.nvmelm.spec.ControllerState.decode(mc1.peekState()).sqs().stream().anyMatch(q -> q.tail() != q.head()));
            assertThat(w).as("held while suspended, not failed").isNotDone();
            mmc.admin(new MigrationSendCommand.Resume(1, 0).toSqe(), null).orThrow("resume");
            w.get(10, TimeUnit.SECONDS);
            byte[] back = new byte[4096];
            NbdClient.await(client.read(4096, back));
            assertThat(back).isEqualTo(data);
        }
    }

    @Test
    void unalignedRequestsAreRefusedAndTheServerKeepsServing() throws Exception {
        try (NbdClient client = NbdClient.connect(NbdUri.parse(uri))) {
            assertThat(client.minBlockBytes()).isEqualTo(4096);
            CompletableFuture<Void> bad = client.write(100, new byte[512], false);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> NbdClient.await(bad)).hasMessageContaining("aligned");
            NbdClient.await(client.write(8192, new byte[4096], true));
        }
        assertThat(run("nbdinfo", "--size", uri).strip()).isEqualTo(String.valueOf(NS_BYTES));
    }

    /** --nbd-dirty: nbdinfo --map=nvme-lm:dirty shows exactly the ranges written since tracking started. */
    @Test
    void theDirtyContextShowsWhatWasWrittenSinceTrackingStarted() throws Exception {
        nbd.close();
        List<DirtyTracker> trackers = List.of(new DirtyTracker(server, 1), new DirtyTracker(server, 2));
        try {
            nbd = new NbdServer(NamespaceExports.of(server, trackers), log::add);
            Path sock = dir.resolve("nbd2.sock");
            String u = NamespaceExports.listen(nbd, "unix:" + sock).getFirst();
            assertThat(run("nbdinfo", u)).contains("nvme-lm:dirty");
            try (NbdClient client = NbdClient.connect(NbdUri.parse(u))) {
                NbdClient.await(client.write(1 << 20, new byte[8192], false));
                NbdClient.await(client.writeZeroes(5L << 20, 1 << 20, false, false));
                NbdClient.await(client.trim(20L << 20, 4096));
            }
            String map = run("nbdinfo", "--map=nvme-lm:dirty", u);
            // nbdinfo names no flags of a context it does not know: offset, length, flags (1 = dirty)
            assertThat(map).containsPattern("(?m)^\\s+0\\s+1048576\\s+0\\s*$");
            assertThat(map).containsPattern("(?m)^\\s+1048576\\s+8192\\s+1\\s*$");
            assertThat(map).containsPattern("(?m)^\\s+5242880\\s+1048576\\s+1\\s*$");
            assertThat(map).containsPattern("(?m)^\\s+20971520\\s+4096\\s+1\\s*$");
            assertThat(map.lines().filter(l -> l.strip().endsWith(" 1")).count()).isEqualTo(3);
            // the other controller's export saw no writes
            String other = run("nbdinfo", "--map=nvme-lm:dirty", u.replace("c1n1", "c2n1"));
            assertThat(other.lines().filter(l -> l.strip().endsWith(" 1")).count()).isZero();
            assertThat(other).containsPattern("(?m)^\\s+0\\s+" + NS_BYTES + "\\s+0\\s*$");
        } finally {
            for (DirtyTracker t : trackers) t.close();
        }
    }

    @Test
    void tcpOnlyOnLoopback() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> NamespaceExports.listen(nbd, "tcp:8.8.8.8:10809"))
                .hasMessageContaining("needs TLS");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> NamespaceExports.listen(nbd, "udp:x"))
                .hasMessageContaining("expected unix:PATH or tcp:HOST:PORT");
    }
}
