package dev.nvmelm.embedded;

import dev.nvmelm.host.CdqQueue;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.sim.SimNvmeDevice;
import dev.nvmelm.spec.CdqFeature;
import dev.nvmelm.spec.ControllerDataQueueCommand;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.MigrationSendCommand;
import dev.nvmelm.spec.TrackSendCommand;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What an unrelated client of ctl.sock may do to another client's controller, migration and
 * CDQ: raw frames over the socket (RawSimClient), each answered with a refusal, never a hang,
 * while the owners keep being served (docs/device.md, "Who may send what").
 */
class SessionOwnershipTest extends ServedSubsystemFixture {
    RawSimClient hostile(int cntlid) throws Exception {
        RawSimClient c = new RawSimClient(server.socketPath(), TIMEOUT);
        assertThat(c.hello(cntlid).type()).isEqualTo(RawSimClient.WELCOME);
        return c;
    }

    static void write(SimNvmeDevice mc, long slba, byte pattern) throws NvmeException {
        MemorySegment buf = mc.allocateBuffer(4096).fill(pattern);
        mc.io(IoCommands.write(1, slba, 1, false).toSqe(), buf).orThrow("write");
    }

    static byte read(SimNvmeDevice mc, long slba) throws NvmeException {
        MemorySegment buf = mc.allocateBuffer(4096);
        mc.io(IoCommands.read(1, slba, 1).toSqe(), buf).orThrow("read");
        return buf.get(ValueLayout.JAVA_BYTE, 0);
    }

    /** Issue 19 item 9: the switchover from a client that runs no migration was accepted, and MC 1's I/O then hung. */
    @Test
    void aHandoverFromAnUnrelatedClientIsRefusedAndTheGuestKeepsItsQueues() throws Exception {
        try (SimNvmeDevice guest = open(1); RawSimClient h = hostile(0)) {
            write(guest, 3, (byte) 0x31);   // MC 1 has a host driver with live queues
            RawSimClient.Reply r = h.handover(1, 2);
            assertThat(r.type()).as("refused, not done").isEqualTo(RawSimClient.FAILED);
            assertThat(r.message()).contains("not suspended by this client");
            // the guest's queues stayed on MC 1
            write(guest, 4, (byte) 0x32);
            assertThat(read(guest, 4)).isEqualTo((byte) 0x32);
            try (SimNvmeDevice mc2 = open(2)) {
                assertThat(read(mc2, 4)).as("MC 2 has its own namespace").isZero();
            }
        }
    }

    /** While client A migrates MC 1, client B can neither resume it, re-suspend it, nor switch it over. */
    @Test
    void onlyTheClientMigratingAControllerMaySendItsSteps() throws Exception {
        try (SimNvmeDevice guest = open(1); SimNvmeDevice vmm = open(0); RawSimClient h = hostile(0)) {
            write(guest, 0, (byte) 1);
            vmm.admin(new MigrationSendCommand.Suspend(1, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe(), null).orThrow("suspend");
            CompletableFuture<Void> held = CompletableFuture.runAsync(() -> {
                try {
                    write(guest, 9, (byte) 9);   // waits in MC 1's queue while it is suspended
                } catch (NvmeException e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
            for (var step : new MigrationSendCommand[]{new MigrationSendCommand.Resume(1, 0),
                    new MigrationSendCommand.Suspend(1, MigrationSendCommand.STYPE_SUSPEND, false, 0),
                    new MigrationSendCommand.SetControllerState(1, MigrationSendCommand.SEQIND_ENTIRE, 0, 0, 0, 0, 0)}) {
                RawSimClient.Reply r = h.admin(step.toSqe());
                assertThat(r.type()).as(step.toString()).isEqualTo(RawSimClient.FAILED);
                assertThat(r.message()).contains("being migrated by another client");
            }
            assertThat(h.handover(1, 2).message()).contains("not suspended by this client");
            // the migrating client itself may not switch to a destination that received no state
            assertThatHandoverFails(vmm, 1, 2, "has not been loaded");
            assertThat(held).as("MC 1 is still suspended").isNotDone();
            vmm.admin(new MigrationSendCommand.Resume(1, 0).toSqe(), null).orThrow("resume by the migrating client");
            held.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            assertThat(read(guest, 9)).isEqualTo((byte) 9);
            // resumed: MC 1 is nobody's any more, so B may now suspend and resume it
            assertThat(h.admin(new MigrationSendCommand.Suspend(1, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe()).statusField()).isZero();
            assertThat(h.admin(new MigrationSendCommand.Resume(1, 0).toSqe()).statusField()).isZero();
        }
    }

    /**
     * Issue 19 item 1: a Hello for a suspended controller without a driver waited (an hour) for
     * queue creation while holding the server's lock, so every other Hello and the server's
     * close waited too. Now it is refused at once and nothing else waits.
     */
    @Test
    void aSuspendedControllerIsRefusedAndWedgesNothing() throws Exception {
        try (SimNvmeDevice vmm = open(0)) {
            vmm.admin(new MigrationSendCommand.Suspend(2, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe(), null).orThrow("suspend");
            try (RawSimClient c = new RawSimClient(server.socketPath(), TIMEOUT)) {
                RawSimClient.Reply r = c.hello(2);
                assertThat(r.type()).isEqualTo(RawSimClient.FAILED);
                assertThat(r.message()).isEqualTo("controller 2 is suspended (a migration holds it); it serves again after a Resume");
            }
            try (SimNvmeDevice mc1 = open(1)) {
                write(mc1, 0, (byte) 5);   // another controller is served meanwhile
            }
        }
        CompletableFuture.runAsync(() -> {
            try {
                server.close();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }).get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** A client that leaves mid-migration leaves the MC to the next one, which can resume it. */
    @Test
    void aDepartedClientsClaimGoesWithIt() throws Exception {
        try (SimNvmeDevice guest = open(1)) {
            write(guest, 0, (byte) 1);
            try (RawSimClient a = hostile(0)) {
                assertThat(a.admin(new MigrationSendCommand.Suspend(1, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe()).statusField()).isZero();
            }
            try (SimNvmeDevice vmm = open(0)) {
                // the server notices A's departure on its own thread: retry until the claim is gone, within the bound
                long deadline = System.nanoTime() + TIMEOUT.toNanos();
                while (true) {
                    try {
                        vmm.admin(new MigrationSendCommand.Resume(1, 0).toSqe(), null).orThrow("resume");
                        break;
                    } catch (NvmeException e) {
                        assertThat(e.getMessage()).contains("another client");
                        assertThat(System.nanoTime()).as("claim released").isLessThan(deadline);
                        Thread.onSpinWait();
                    }
                }
            }
            write(guest, 1, (byte) 2);
        }
    }

    private static void assertThatHandoverFails(SimNvmeDevice vmm, int from, int to, String reason) {
        try {
            vmm.handover(from, to);
            throw new AssertionError("handover " + from + " -> " + to + " was accepted");
        } catch (NvmeException e) {
            assertThat(e.getMessage()).contains(reason);
        }
    }

    /** Another client's CDQ, and the server's own, cannot be stopped, moved, deleted or attached by a raw SQE. */
    @Test
    void anotherClientsCdqIsRefusedAndKeepsLogging() throws Exception {
        try (SimNvmeDevice guest = open(1); SimNvmeDevice vmm = open(0); RawSimClient h = hostile(0)) {
            CdqQueue q = vmm.createCdq(1, 64 * 32);
            vmm.admin(TrackSendCommand.start(q.cdqid()).toSqe(), null).orThrow("track send");
            CdqQueue own = server.device(0).createCdq(2, 64 * 32);
            server.holdCdq(own);
            for (int cdqid : new int[]{q.cdqid(), own.cdqid()}) {
                for (var sqe : new dev.nvmelm.spec.Sqe[]{TrackSendCommand.stop(cdqid).toSqe(), new CdqFeature.SetCdq(cdqid, 5, false, 0).toSqe(),
                        new CdqFeature.GetCdq(cdqid).toSqe(), new ControllerDataQueueCommand.Delete(cdqid).toSqe()}) {
                    RawSimClient.Reply r = h.admin(sqe);
                    assertThat(r.type()).as("opcode %02x on CDQ %d", sqe.opcode(), cdqid).isEqualTo(RawSimClient.FAILED);
                    assertThat(r.message()).containsAnyOf("in use by another client", "device server's own");
                }
                assertThat(h.cdqAttach(cdqid).type()).isEqualTo(RawSimClient.FAILED);
            }
            for (int mc : new int[]{1, 2}) {
                RawSimClient.Reply r = h.admin(new MigrationSendCommand.Suspend(mc, MigrationSendCommand.STYPE_SUSPEND, true, 0).toSqe());
                assertThat(r.message()).as("Suspend with DUDMQ of MC %d", mc).contains("would delete");
            }
            write(guest, 7, (byte) 7);
            var entries = dev.nvmelm.host.cdq.CdqRingReader.at(q, CdqQueue.Cursor.START).take(16);
            assertThat(entries).as("still logging").anyMatch(e -> e.nsid() == 1 && e.slba() == 7);
            server.forgetCdq(own.cdqid());
            own.close();
        }
    }
}
