package dev.nvmelm.embedded;

import dev.nvmelm.Await;
import dev.nvmelm.device.Subsystem;
import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.NvmeStatusException;
import dev.nvmelm.host.sim.SimNvmeDevice;
import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.CdqFeature;
import dev.nvmelm.spec.ControllerDataQueueCommand;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.StatusCodes;
import dev.nvmelm.spec.TrackSendCommand;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The served subsystem seen through sim: clients, as separate CLI invocations would see it. */
class DeviceServerTest extends ServedSubsystemFixture {
    static Completion write(SimNvmeDevice mc, long slba, int blocks, byte pattern) throws NvmeException {
        MemorySegment buf = mc.allocateBuffer(blocks * 4096L).fill(pattern);
        return mc.io(IoCommands.write(1, slba, blocks, false).toSqe(), buf);
    }

    static List<LbaMigrationEntry> read(CdqQueue q, CdqQueue.Cursor from, int max) {
        return dev.nvmelm.host.cdq.CdqRingReader.at(q, from).take(max);
    }

    @Test
    void cdqOutlivesTheClientThatDetachedItAndLogsWritesOfAnotherClient() throws Exception {
        int cdqid;
        try (SimNvmeDevice mmc = open(0)) {
            CdqQueue q = mmc.createCdq(1, 64 * 32);
            cdqid = q.cdqid();
            mmc.admin(new TrackSendCommand(TrackSendCommand.SEL_LOG_USER_DATA, TrackSendCommand.LACT_START, cdqid).toSqe(), null).orThrow("track");
            q.detach(CdqQueue.Cursor.START);
        }
        try (SimNvmeDevice mc = open(1)) {
            write(mc, 100, 8, (byte) 0xab).orThrow("write");
            MemorySegment back = mc.allocateBuffer(8 * 4096);
            mc.io(IoCommands.read(1, 100, 8).toSqe(), back).orThrow("read");
            assertThat(back.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).containsOnly((byte) 0xab);
        }
        try (SimNvmeDevice mmc = open(0)) {
            CdqQueue q = mmc.attachCdq(cdqid);
            assertThat(q.cursor()).isEqualTo(CdqQueue.Cursor.START);
            List<LbaMigrationEntry> e = read(q, q.cursor(), 100);
            assertThat(e).hasSize(2);
            assertThat(e.get(0).esa()).isEqualTo(LbaMigrationEntry.ESA_FIRST);
            assertThat(e.get(1)).extracting(LbaMigrationEntry::nsid, LbaMigrationEntry::slba, LbaMigrationEntry::blockCount).containsExactly(1, 100L, 8L);
            mmc.admin(new CdqFeature.SetCdq(cdqid, 2, false, 0).toSqe(), null).orThrow("head");
            q.detach(new CdqQueue.Cursor(2, false));
        }
        try (SimNvmeDevice mmc = open(0)) {
            CdqQueue q = mmc.attachCdq(cdqid);
            assertThat(q.cursor()).isEqualTo(new CdqQueue.Cursor(2, false));
            assertThat(read(q, q.cursor(), 100)).isEmpty();
            q.close();
            assertThatThrownBy(() -> mmc.attachCdq(cdqid)).isInstanceOf(NvmeStatusException.class)
                    .satisfies(t -> assertThat(((NvmeStatusException) t).status().field()).isEqualTo(0x4137));
        }
    }

    @Test
    void tailPointerTriggerReachesTheClientAsANotification() throws Exception {
        try (SimNvmeDevice mmc = open(0); SimNvmeDevice mc = open(1)) {
            CdqQueue q = mmc.createCdq(1, 64 * 32);
            mmc.admin(new TrackSendCommand(TrackSendCommand.SEL_LOG_USER_DATA, TrackSendCommand.LACT_START, q.cdqid()).toSqe(), null).orThrow("track");
            // ESA 1 marker is at slot 0; fire when the tail passes slot 2
            mmc.admin(new CdqFeature.SetCdq(q.cdqid(), 0, true, 2).toSqe(), null).orThrow("arm");
            assertThat(q.awaitNotification(Duration.ofMillis(100))).isFalse();
            write(mc, 0, 1, (byte) 1).orThrow("write");
            write(mc, 1, 1, (byte) 1).orThrow("write");
            assertThat(q.awaitNotification(TIMEOUT)).isTrue();
            assertThat(read(q, CdqQueue.Cursor.START, 100)).hasSize(3);
        }
    }

    @Test
    void aClientThatGoesAwayLosesItsCdqsButNotTheData() throws Exception {
        int cdqid;
        try (SimNvmeDevice mmc = open(0); SimNvmeDevice mc = open(1)) {
            CdqQueue q = mmc.createCdq(1, 64 * 32);
            cdqid = q.cdqid();
            mmc.admin(new TrackSendCommand(TrackSendCommand.SEL_LOG_USER_DATA, TrackSendCommand.LACT_START, cdqid).toSqe(), null).orThrow("track");
            write(mc, 7, 1, (byte) 0x5a).orThrow("write");
        }
        try (SimNvmeDevice mmc = open(0)) {
            int gone = cdqid;
            // the server cleans up after it notices the disconnect
            Await.until("the CDQ of a departed client is deleted", TIMEOUT, () -> {
                try {
                    mmc.attachCdq(gone).close();
                    return false;
                } catch (NvmeStatusException e) {
                    assertThat(e.status().is(StatusCodes.INVALID_CDQ)).as(e.status().toString()).isTrue();
                    return true;
                } catch (NvmeException stillHeld) {
                    return false;   // the server has not seen the disconnect yet: the CDQ is still the departed session's
                }
            });
            // the UDMQ slot of MC 1 is free again
            mmc.createCdq(1, 64 * 32).close();
        }
        try (SimNvmeDevice mc = open(1)) {
            MemorySegment back = mc.allocateBuffer(4096);
            mc.io(IoCommands.read(1, 7, 1).toSqe(), back).orThrow("read");
            assertThat(back.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 4095)).isEqualTo((byte) 0x5a);
        }
    }

    @Test
    void statusCodesComeBackAsTheControllerGaveThem() throws Exception {
        try (SimNvmeDevice mmc = open(0)) {
            Completion c = mmc.admin(new ControllerDataQueueCommand.Delete(99).toSqe(), null);
            assertThat(c.status().field()).isEqualTo(0x4137);
            assertThatThrownBy(() -> mmc.createCdq(9, 64 * 32)).isInstanceOf(NvmeStatusException.class);
        }
    }

    @Test
    void badClientsGetErrorsAndTheServerKeepsServing() throws Exception {
        assertThatThrownBy(() -> open(9)).isInstanceOf(NvmeException.class).hasMessageContaining("no controller with CNTLID 9");
        try (SimNvmeDevice mmc = open(0)) {
            // queue management belongs to the server
            assertThatThrownBy(() -> mmc.admin(AdminCommands.deleteIoSq(1), null)).hasMessageContaining("owns");
            assertThatThrownBy(() -> mmc.admin(AdminCommands.asyncEventRequest(), null)).hasMessageContaining("owns");
            // raw CDQ create would let a client point the controller at memory of its choosing
            assertThatThrownBy(() -> mmc.admin(new ControllerDataQueueCommand.Create(0, true, 1, 256, 0x1000).toSqe(), null))
                    .hasMessageContaining("create CDQs");
            // a buffer not from this client's allocations is bounced, never passed through by address
            try (Arena a = Arena.ofConfined()) {
                MemorySegment own = a.allocate(4096);
                mmc.admin(new AdminCommands.Identify(AdminCommands.CNS_CONTROLLER, 0, 0, 0).toSqe(), own).orThrow("identify");
                assertThat(own.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 0)).isNotZero();
            }
        }
        // hostile raw frames: oversized length, unknown type, garbage after Hello
        for (byte[] frame : List.of(le(0x7fff_ffff), concat(le(5), new byte[]{99, 0, 0, 0, 0}), concat(le(9), new byte[]{1, 0, 0, 0, 0, 1, 0, 0, 0}, le(3), new byte[]{4}))) {
            try (SocketChannel s = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                s.connect(UnixDomainSocketAddress.of(server.socketPath()));
                s.write(ByteBuffer.wrap(frame));
                ByteBuffer sink = ByteBuffer.allocate(8192);
                long deadline = System.nanoTime() + TIMEOUT.toNanos();
                try {
                    while (s.read(sink.clear()) >= 0) assertThat(System.nanoTime()).as("server closes a broken client").isLessThan(deadline);
                } catch (java.net.SocketException reset) {
                    // closed with unread data on its side: also a close
                }
            }
        }
        try (SimNvmeDevice mc = open(1)) {
            write(mc, 0, 1, (byte) 3).orThrow("still serving");
        }
    }

    @Test
    void closingTheServerEndsClientsWithAClearErrorAndKeepsTheData() throws Exception {
        SimNvmeDevice mc = open(1);
        write(mc, 42, 1, (byte) 0x42).orThrow("write");
        server.close();
        assertThat(Files.exists(server.socketPath())).isFalse();
        assertThatThrownBy(() -> write(mc, 0, 1, (byte) 0)).hasMessageContaining("device server");   // closed the connection, or a broken pipe on send
        mc.close();
        assertThatThrownBy(() -> SimNvmeDevice.open(server.deviceString(), TIMEOUT)).hasMessageContaining("device serve");
        server = DeviceServer.start(new Subsystem.Config(dir, 16 << 20, 1, 2, 4096), 32 << 20, null);
        try (SimNvmeDevice again = open(1)) {
            MemorySegment back = again.allocateBuffer(4096);
            again.io(IoCommands.read(1, 42, 1).toSqe(), back).orThrow("read");
            assertThat(back.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0x42);
        }
    }

    @Test
    void aSecondServerOnTheSameDirectoryIsRefused() {
        assertThatThrownBy(() -> DeviceServer.start(new Subsystem.Config(dir, 16 << 20, 1, 2, 4096), 32 << 20, null))
                .hasMessageContaining("already running").hasMessageContaining("nothing was changed");
    }

    private static byte[] le(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) n += p.length;
        ByteBuffer b = ByteBuffer.allocate(n);
        for (byte[] p : parts) b.put(p);
        return b.array();
    }

}
