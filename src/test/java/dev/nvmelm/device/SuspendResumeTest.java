package dev.nvmelm.device;

import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.CdqFeature;
import dev.nvmelm.spec.ControllerState;
import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.IoSqState;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.MigrationReceiveCommand;
import dev.nvmelm.spec.MigrationSendCommand;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;
import dev.nvmelm.spec.TrackSendCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.nvmelm.spec.LbaMigrationEntry.ESA_FIRST;
import static dev.nvmelm.spec.LbaMigrationEntry.ESA_SUSPENDED;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Migration Send Suspend and Resume, Get/Set Controller State (NVMe Base 2.1, sections 5.1.16 and 5.1.17), on the
 * deterministic {@link Sim}, including the interleavings a multi-threaded host can produce.
 */
class SuspendResumeTest {

    static LbaMigrationEntry range(long slba, long blocks, boolean phase) {
        return LbaMigrationEntry.range(1, slba, blocks, phase);
    }

    static LbaMigrationEntry marker(int esa) {
        return LbaMigrationEntry.marker(esa, true);
    }

    static Sqe suspendSqe(int cntlid, boolean dudmq) {
        return new MigrationSendCommand.Suspend(cntlid, MigrationSendCommand.STYPE_SUSPEND, dudmq, 0).toSqe();
    }

    /** Arms the vendor write throttle so every write reads the (simulated) clock. */
    static void clockEveryWrite(Fx fx, int cntlid) {
        Cqe c = fx.mmc.admin(Sqe.of(dev.nvmelm.spec.AdminOpcode.SET_FEATURES).withCdw10(dev.nvmelm.spec.WriteThrottleFeature.FID)
                .withCdw11(cntlid).withCdw12(1_000_000_000));
        assertThat(c.status()).isEqualTo(Status.SUCCESS);
    }

    /** Get Controller State of {@code cntlid} (header, then the whole state). */
    static byte[] getState(Fx fx, int cntlid) {
        Sim.Buf buf = fx.sim.alloc(4096);
        Cqe c = fx.mmc.admin(fx.mmc.withData(MigrationReceiveCommand.read(cntlid, 1, 0, 4096).toSqe(), buf));
        assertThat(c.status()).isEqualTo(Status.SUCCESS);
        ControllerState.Header h = ControllerState.Header.decode(buf.seg().asSlice(0, 48).toArray(ValueLayout.JAVA_BYTE));
        return buf.seg().asSlice(0, h.totalBytes()).toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void suspendArrivingMidStreamStopsFetchingDrainsThenMarksAndTheRestRunsAfterResume(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Ring ring = fx.createCdq(1, 64);
            fx.trackStart(ring);
            clockEveryWrite(fx, 1);
            List<Integer> cids = new ArrayList<>();
            for (int i = 0; i < 10; i++) cids.add(fx.mc.write(1, ioWrite(fx, 10L * i)));
            int[] writesSeen = {0};
            int[] suspendCid = {-1};
            fx.sim.onClockRead = () -> {
                if (++writesSeen[0] == 3) {   // the MMC takes a Suspend while MC 1 executes its 3rd write
                    suspendCid[0] = fx.mmc.submit(0, suspendSqe(1, false));
                    fx.sim.steps.runOnly(0);
                }
            };
            fx.mc.ring(1);
            fx.sim.run();
            fx.sim.onClockRead = () -> { };

            assertThat(fx.mmc.completion(0, suspendCid[0]).status()).isEqualTo(Status.SUCCESS);
            assertThat(fx.sim.subsystem.controller(1).migrationState()).isEqualTo(Controller.State.SUSPENDED);
            for (int i = 0; i < 10; i++) {
                assertThat(fx.mc.completion(1, cids.get(i)) != null).as("write %d completed", i).isEqualTo(i < 3);
            }
            assertThat(ring.drain()).containsExactly(marker(ESA_FIRST), range(0, 1, true), range(10, 1, true),
                    range(20, 1, true), marker(ESA_SUSPENDED));
            ControllerState cs = ControllerState.decode(getState(fx, 1));
            IoSqState sq1 = cs.sqs().stream().filter(q -> q.qid() == 1).findFirst().orElseThrow();
            assertThat(sq1.head()).isEqualTo(3);
            assertThat(sq1.tail()).isEqualTo(10);

            assertThat(fx.resume(1)).isEqualTo(Status.SUCCESS);
            for (int i = 3; i < 10; i++) assertThat(fx.mc.completion(1, cids.get(i)).status()).isEqualTo(Status.SUCCESS);
            List<LbaMigrationEntry> after = ring.drain();
            assertThat(after.getFirst()).isEqualTo(marker(ESA_FIRST));
            assertThat(after.subList(1, after.size())).extracting(LbaMigrationEntry::slba).containsExactly(30L, 40L, 50L, 60L, 70L, 80L, 90L);
        }
    }

    static Sqe ioWrite(Fx fx, long slba) {
        Sim.Buf data = fx.sim.alloc(Fx.LBA);
        data.seg().fill((byte) (slba + 1));
        return fx.mc.withData(IoCommands.write(1, slba, 1, false).toSqe(), data);
    }

    @Test
    void suspendCompletesOnlyAfterTheMcDrainedAndDudmqDeletesTheQueue(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Ring ring = fx.createCdq(1, 64);
            fx.trackStart(ring);
            int w = fx.mc.submit(2, ioWrite(fx, 5));
            int s = fx.mmc.submit(0, suspendSqe(1, true));
            fx.sim.steps.runOnly(0);   // the MMC has taken the command; MC 1 has not run yet
            assertThat(fx.mmc.completion(0, s)).as("deferred").isNull();
            assertThat(fx.sim.subsystem.controller(1).migrationState()).isEqualTo(Controller.State.SUSPENDING);
            fx.sim.run();
            assertThat(fx.mmc.completion(0, s).status()).isEqualTo(Status.SUCCESS);
            // the MMC took the Suspend before MC 1 got to the doorbell: the write waits in the SQ
            assertThat(fx.mc.completion(2, w)).isNull();
            assertThat(ring.poll()).containsExactly(marker(ESA_FIRST), marker(ESA_SUSPENDED));
            Cqe gone = fx.mmc.admin(new CdqFeature.GetCdq(ring.cdqid).toSqe().withPrp(fx.sim.alloc(CdqFeature.CdqFeatureData.SIZE).iova(), 0));
            assertThat(gone.status()).isEqualTo(Status.dnr(StatusCodes.INVALID_CDQ));
            assertThat(fx.resume(1)).isEqualTo(Status.SUCCESS);
            assertThat(fx.mc.completion(2, w).status()).isEqualTo(Status.SUCCESS);
            assertThat(ring.poll()).as("nothing written into a deleted queue").isEmpty();
        }
    }

    @Test
    void aFullCompletionQueueStopsFetchingSoSuspendLeavesNothingHalfDone(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Ring ring = fx.createCdq(1, 64);
            fx.trackStart(ring);
            fx.mc.createIoQueues(3, 64, 2);   // a CQ with room for one completion
            List<Integer> cids = new ArrayList<>();
            for (int i = 0; i < 40; i++) cids.add(fx.mc.write(3, ioWrite(fx, 100 + i)));
            fx.mc.ring(3);
            fx.sim.run();
            // one command ran and completed; the rest wait in the SQ, not as completions held inside the controller
            assertThat(ring.poll()).containsExactly(marker(ESA_FIRST), range(100, 1, true));
            assertThat(fx.mmc.admin(suspendSqe(1, false)).status()).isEqualTo(Status.SUCCESS);
            ControllerState cs = ControllerState.decode(getState(fx, 1));
            IoSqState sq3 = cs.sqs().stream().filter(q -> q.qid() == 3).findFirst().orElseThrow();
            assertThat(sq3.head()).isEqualTo(1);
            assertThat(sq3.tail()).isEqualTo(40);
            assertThat(cs.cqs().stream().filter(q -> q.qid() == 3).findFirst().orElseThrow().tail()).isEqualTo(1);
            assertThat(fx.resume(1)).isEqualTo(Status.SUCCESS);
            // each completion the host reaps lets the next command run
            int reaped = 0;
            for (int round = 0; round < 100 && reaped < 40; round++) {
                reaped += fx.mc.reap(3, 1).size();
                fx.sim.run();
            }
            assertThat(reaped).isEqualTo(40);
            for (int cid : cids) assertThat(fx.mc.queue(3).done.remove(cid).status()).isEqualTo(Status.SUCCESS);
            List<LbaMigrationEntry> after = ring.poll();
            assertThat(after.subList(0, 2)).containsExactly(marker(ESA_SUSPENDED), marker(ESA_FIRST));
            assertThat(after.subList(2, after.size())).extracting(LbaMigrationEntry::slba)
                    .containsExactlyElementsOf(java.util.stream.LongStream.range(101, 140).boxed().toList());
        }
    }

    @Test
    void twoPipelinedResumesGiveOneEsa1AndControllerNotSuspended(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Ring ring = fx.createCdq(1, 64);
            fx.trackStart(ring);
            fx.suspend(1, false);
            int r1 = fx.mmc.submit(0, new MigrationSendCommand.Resume(1, 0).toSqe());
            int r2 = fx.mmc.submit(0, new MigrationSendCommand.Resume(1, 0).toSqe());
            fx.sim.run();
            assertThat(fx.mmc.completion(0, r1).status()).isEqualTo(Status.SUCCESS);
            assertThat(fx.mmc.completion(0, r2).status()).isEqualTo(Status.dnr(StatusCodes.CTRL_NOT_SUSPENDED));
            assertThat(ring.drain()).containsExactly(marker(ESA_FIRST), marker(ESA_SUSPENDED), marker(ESA_FIRST));
        }
    }

    @Test
    void aSuspendPipelinedBehindAResumeSuspendsAgainWithItsMarker(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Ring ring = fx.createCdq(1, 64);
            fx.trackStart(ring);
            fx.suspend(1, false);
            int r = fx.mmc.submit(0, new MigrationSendCommand.Resume(1, 0).toSqe());
            int s = fx.mmc.submit(0, suspendSqe(1, false));
            fx.sim.run();
            assertThat(fx.mmc.completion(0, r).status()).isEqualTo(Status.SUCCESS);
            assertThat(fx.mmc.completion(0, s).status()).isEqualTo(Status.SUCCESS);
            assertThat(fx.sim.subsystem.controller(1).migrationState()).isEqualTo(Controller.State.SUSPENDED);
            assertThat(ring.drain()).containsExactly(marker(ESA_FIRST), marker(ESA_SUSPENDED), marker(ESA_FIRST), marker(ESA_SUSPENDED));
        }
    }

    @Test
    void trackSendPipelinedBehindASuspendSeesTheSuspendedController(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Ring ring = fx.createCdq(1, 64);
            int s = fx.mmc.submit(0, suspendSqe(1, false));
            int t = fx.mmc.submit(0, TrackSendCommand.start(ring.cdqid).toSqe());
            fx.sim.run();
            assertThat(fx.mmc.completion(0, s).status()).isEqualTo(Status.SUCCESS);
            assertThat(fx.mmc.completion(0, t).status()).isEqualTo(Status.dnr(StatusCodes.CTRL_SUSPENDED));
            assertThat(ring.drain()).containsExactly(marker(ESA_SUSPENDED));
        }
    }

    @Test
    void aDeferredCompletionDoesNotOutliveAControllerReset(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Ring ring = fx.createCdq(1, 64);
            fx.mmc.submit(0, TrackSendCommand.start(ring.cdqid).toSqe());
            fx.sim.steps.runOnly(0);   // Track Send taken; its marker is queued on MC 1
            fx.mmc.c.write32(dev.nvmelm.spec.bus.Registers.CC, 0);
            fx.sim.steps.runOnly(0);   // the MMC resets before MC 1 gets to run: its CDQs are deleted
            fx.mmc.enable();
            fx.sim.run();
            assertThat(fx.mmc.reap(0)).as("no completion of a command from before the reset").isEmpty();
            assertThat(ring.poll()).as("no marker written into the deleted CDQ").isEmpty();
            assertThat(fx.fatal(fx.mmc) || fx.fatal(fx.mc)).isFalse();
        }
    }

    @Test
    void aMarkerQueuedBeforeADeleteIsNeverWrittenIntoTheFreedRing(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Ring ring = fx.createCdq(1, 64);
            int t = fx.mmc.submit(0, TrackSendCommand.start(ring.cdqid).toSqe());
            int d = fx.mmc.submit(0, new dev.nvmelm.spec.ControllerDataQueueCommand.Delete(ring.cdqid).toSqe());
            fx.sim.steps.runOnly(0);   // both taken by the MMC; Delete completes at once
            assertThat(fx.mmc.completion(0, d).status()).isEqualTo(Status.SUCCESS);
            ring.buf.seg().fill((byte) 0x5a);   // the host reuses the memory it got back
            fx.sim.run();
            assertThat(fx.mmc.completion(0, t).status()).isEqualTo(Status.dnr(StatusCodes.INVALID_CDQ));
            assertThat(ring.buf.seg().toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0x5a);
        }
    }

    @Test
    void stateMovesInChunksToASecondControllerWhereTheUnfetchedCommandsRun(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            Ring ring = fx.createCdq(1, 64);
            fx.trackStart(ring);
            fx.write(1, 0, 1);
            assertThat(fx.suspend(1, true)).isEqualTo(Status.SUCCESS);
            List<Integer> pending = new ArrayList<>();
            for (int i = 0; i < 5; i++) pending.add(fx.mc.submit(1 + i % 2, ioWrite(fx, 200 + i)));
            fx.sim.run();
            for (int i = 0; i < 5; i++) assertThat(fx.mc.completion(1 + i % 2, pending.get(i))).isNull();
            byte[] state = getState(fx, 1);
            assertThat(state).hasSize(48 + 8 + 4 * 24);

            assertThat(fx.suspend(2, false)).isEqualTo(Status.SUCCESS);
            Sim.Buf out = fx.sim.alloc(state.length);
            MemorySegment.copy(state, 0, out.seg(), ValueLayout.JAVA_BYTE, 0, state.length);
            int[][] chunks = {{0, 64, MigrationSendCommand.SEQIND_FIRST}, {64, 64, MigrationSendCommand.SEQIND_MIDDLE},
                    {128, state.length - 128, MigrationSendCommand.SEQIND_LAST}};
            for (int[] c : chunks) {
                Sim.Buf piece = new Sim.Buf(out.seg().asSlice(c[0], c[1]), out.iova() + c[0]);
                Sqe set = new MigrationSendCommand.SetControllerState(2, c[2], 1, 0, c[0], 0, c[1] / 4).toSqe();
                assertThat(fx.mmc.admin(fx.mmc.withData(set, piece)).status()).as("chunk at %d", c[0]).isEqualTo(Status.SUCCESS);
            }
            ControllerState onDestination = ControllerState.decode(getState(fx, 2));
            ControllerState onSource = ControllerState.decode(state);
            assertThat(onDestination.sqs()).isEqualTo(onSource.sqs());
            assertThat(onDestination.cqs()).isEqualTo(onSource.cqs());

            fx.mc.moveTo(fx.sim.subsystem.controller(2));
            assertThat(fx.resume(2)).isEqualTo(Status.SUCCESS);
            for (int i = 0; i < 5; i++) assertThat(fx.mc.completion(1 + i % 2, pending.get(i)).status()).isEqualTo(Status.SUCCESS);
            // the writes landed on MC 2's namespace (MMC NSID 2), not on the suspended source
            Sim.Buf back = fx.sim.alloc(Fx.LBA);
            fx.mmc.createIoQueues(1, 16);
            assertThat(fx.mmc.io(1, fx.mmc.withData(IoCommands.read(2, 203, 1).toSqe(), back)).status()).isEqualTo(Status.SUCCESS);
            assertThat(back.seg().get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 204);
            // and the guest keeps going on the destination
            assertThat(fx.write(2, 300, 4).status()).isEqualTo(Status.SUCCESS);
        }
    }
    @Test
    void restoredQueuesRunWhenTheDestinationIsEnabledAfterItsResume(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            assertThat(fx.suspend(1, false)).isEqualTo(Status.SUCCESS);
            int pending = fx.mc.submit(1, ioWrite(fx, 7));
            fx.sim.run();
            byte[] state = getState(fx, 1);
            assertThat(fx.suspend(2, false)).isEqualTo(Status.SUCCESS);
            Sim.Buf out = fx.sim.alloc(state.length);
            MemorySegment.copy(state, 0, out.seg(), ValueLayout.JAVA_BYTE, 0, state.length);
            Sqe set = new MigrationSendCommand.SetControllerState(2, MigrationSendCommand.SEQIND_ENTIRE, 1, 0, 0, 0, state.length / 4).toSqe();
            assertThat(fx.mmc.admin(fx.mmc.withData(set, out)).status()).isEqualTo(Status.SUCCESS);
            // the VMM restores the device registers after resuming it: nothing can run before CC.EN
            assertThat(fx.resume(2)).isEqualTo(Status.SUCCESS);
            assertThat(fx.mc.completion(1, pending)).isNull();
            fx.mc.moveTo(fx.sim.subsystem.controller(2));
            assertThat(fx.mc.completion(1, pending)).as("the waiting write ran once the controller was ready").isNotNull();
        }
    }
}
