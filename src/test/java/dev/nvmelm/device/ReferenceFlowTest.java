package dev.nvmelm.device;

import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.Completion;
import dev.nvmelm.spec.CdqFeature;
import dev.nvmelm.spec.ControllerState;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.MigrationReceiveCommand;
import dev.nvmelm.spec.MigrationSendCommand;
import dev.nvmelm.spec.TrackSendCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import static org.assertj.core.api.Assertions.assertThat;

/** The end-to-end flow of docs/spec.md, against the software controller through the host driver. */
class ReferenceFlowTest {

    static LbaMigrationEntry entry(CdqQueue q, int slot) {
        return LbaMigrationEntry.decode(q.ring(), slot * 32L);
    }

    @Test
    void trackSuspendMoveStateResumeAndThePendingReadCompletesOnTheDestination(@TempDir Path dir) throws Exception {
        try (Rig rig = new Rig(dir, 16 << 20, 2)) {
            // 1-2: create a 4 KiB CDQ for MC 1 and start tracking: the ring gets an ESA 1 marker
            CdqQueue cdq = rig.mmc.createCdq(1, 4096);
            assertThat(cdq.entryCount()).isEqualTo(128);
            rig.mmc.admin(TrackSendCommand.start(cdq.cdqid()).toSqe(), null).orThrow("track start");
            assertThat(entry(cdq, 0)).isEqualTo(LbaMigrationEntry.marker(LbaMigrationEntry.ESA_FIRST, true));

            // 3: guest writes 8 LBAs at 0 through MC 1's I/O queue: one LBACI 0 entry
            MemorySegment data = rig.guest.allocateBuffer(8 * 4096);
            for (long i = 0; i < data.byteSize(); i++) data.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31));
            rig.guest.io(IoCommands.write(1, 0, 8, false).toSqe(), data).orThrow("write");
            LbaMigrationEntry w = entry(cdq, 1);
            assertThat(w.nsid()).isEqualTo(1);
            assertThat(w.slba()).isZero();
            assertThat(w.blockCount()).isEqualTo(8);
            assertThat(w.nlb()).isEqualTo(7);   // 0's based on the wire
            assertThat(w.lbaci()).isEqualTo(LbaMigrationEntry.LBACI_RANGE);

            // 4: stop: drain until ESA 2
            rig.mmc.admin(TrackSendCommand.stop(cdq.cdqid()).toSqe(), null).orThrow("track stop");
            assertThat(entry(cdq, 2).esa()).isEqualTo(LbaMigrationEntry.ESA_STOPPED);

            // step 4's copy: the logged range, source namespace -> destination namespace, through
            // the MMC's shared namespaces (MC 1 NSID 1 = MMC NSID 1, MC 2 NSID 1 = MMC NSID 2)
            MemorySegment moved = rig.mmc.allocateBuffer(w.blockCount() * 4096);
            rig.mmc.io(IoCommands.read(1, w.slba(), w.blockCount()).toSqe(), moved).orThrow("copy: read source");
            rig.mmc.io(IoCommands.write(2, w.slba(), w.blockCount(), false).toSqe(), moved).orThrow("copy: write destination");

            // 5-6: report the head, start again
            rig.mmc.admin(new CdqFeature.SetCdq(cdq.cdqid(), 3, false, 0).toSqe(), null).orThrow("set head");
            rig.mmc.admin(TrackSendCommand.start(cdq.cdqid()).toSqe(), null).orThrow("track start again");
            assertThat(entry(cdq, 3).esa()).isEqualTo(LbaMigrationEntry.ESA_FIRST);

            // 7-8: suspend MC 1: ESA 3, no change entry on the way; a read submitted now is not fetched
            rig.mmc.admin(new MigrationSendCommand.Suspend(1, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe(), null).orThrow("suspend");
            assertThat(entry(cdq, 4).esa()).isEqualTo(LbaMigrationEntry.ESA_SUSPENDED);
            assertThat(entry(cdq, 4).lbaci()).isEqualTo(LbaMigrationEntry.LBACI_NONE);
            MemorySegment readBack = rig.guest.allocateBuffer(8 * 4096);
            CompletableFuture<Completion> pendingRead = rig.guest.submitIo(IoCommands.read(1, 0, 8).toSqe(), readBack);

            // 9: get the state of MC 1
            MemorySegment stateBuf = rig.mmc.allocateBuffer(4096);
            Completion got = rig.mmc.admin(MigrationReceiveCommand.read(1, 1, 0, 4096).toSqe(), stateBuf).orThrow("get state");
            assertThat(got.dw0() & MigrationReceiveCommand.CSUP).isEqualTo(1);
            ControllerState.Header h = ControllerState.Header.decode(stateBuf.asSlice(0, 48).toArray(ValueLayout.JAVA_BYTE));
            byte[] state = stateBuf.asSlice(0, h.totalBytes()).toArray(ValueLayout.JAVA_BYTE);
            ControllerState cs = ControllerState.decode(state);
            assertThat(cs.suspended()).isTrue();
            assertThat(cs.sqs()).hasSize(2);
            assertThat(cs.cqs()).hasSize(2);
            assertThat(cs.sqs().stream().mapToInt(q -> (q.tail() - q.head() + q.qsizeZeroBased() + 1) % (q.qsizeZeroBased() + 1)).sum())
                    .as("the pending read waits in an SQ").isEqualTo(1);
            assertThat(pendingRead).as("held, not fetched, while suspended").isNotDone();

            // 10-12: destination MC 2 (same guest memory): suspend, set state, move the guest, resume
            rig.mmc.admin(new MigrationSendCommand.Suspend(2, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe(), null).orThrow("suspend dst");
            MemorySegment stateOut = rig.mmc.allocateBuffer(state.length);
            MemorySegment.copy(state, 0, stateOut, ValueLayout.JAVA_BYTE, 0, state.length);
            rig.mmc.admin(new MigrationSendCommand.SetControllerState(2, MigrationSendCommand.SEQIND_ENTIRE, 1, 0, 0, 0, state.length / 4).toSqe(),
                    stateOut).orThrow("set state");
            rig.guest.moveTo(rig.subsystem.controller(2));
            rig.mmc.admin(new MigrationSendCommand.Resume(2, 0).toSqe(), null).orThrow("resume dst");

            // 13: the pending read completes on MC 2's CQ in guest memory; its payload matches
            Completion read = pendingRead.get(10, TimeUnit.SECONDS);
            assertThat(read.ok()).isTrue();
            assertThat(crc(readBack)).isEqualTo(crc(data));
            // and the guest keeps doing I/O on the destination
            rig.guest.io(IoCommands.write(1, 100, 1, true).toSqe(), data.asSlice(0, 4096)).orThrow("write on destination");
            cdq.close();
        }
    }

    static long crc(MemorySegment m) {
        CRC32C c = new CRC32C();
        c.update(m.asByteBuffer());
        return c.getValue();
    }
}
