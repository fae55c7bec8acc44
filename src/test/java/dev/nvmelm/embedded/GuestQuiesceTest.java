package dev.nvmelm.embedded;

import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.sim.SimMessage.GateStep;
import dev.nvmelm.host.sim.SimNvmeDevice;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.MigrationSendCommand;
import dev.nvmelm.spec.StatusCodes;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The guest quiesce of a move to another host (SimMessage.Gate): guest I/O held, not failed;
 * released in full; failed with an NVMe status after the detach; and only the client migrating
 * the controller may do any of it (docs/device.md, "Who may send what").
 */
class GuestQuiesceTest extends ServedSubsystemFixture {
    static CompletableFuture<Completion> write(SimNvmeDevice mc, long slba, byte pattern) {
        MemorySegment buf = mc.allocateBuffer(4096).fill(pattern);
        return mc.submitIo(IoCommands.write(1, slba, 1, false).toSqe(), buf);
    }

    /** Waits until the server's driver of MC 1 holds {@code n} guest commands. */
    void awaitHeld(int n) throws Exception {
        dev.nvmelm.Await.until(n + " guest commands held", TIMEOUT, () -> server.device(1).heldIo() >= n);
    }

    @Test
    void heldCommandsWaitAndAllCompleteOnRelease() throws Exception {
        try (SimNvmeDevice guest = open(1); SimNvmeDevice vmm = open(0); SimNvmeDevice other = open(0)) {
            write(guest, 1, (byte) 1).get(10, TimeUnit.SECONDS).orThrow("write before");
            vmm.gate(1, GateStep.QUIESCE, "agent test");
            CompletableFuture<Completion> a = write(guest, 2, (byte) 2), b = write(guest, 3, (byte) 3);
            awaitHeld(2);
            assertThat(a).isNotDone();
            // another client may not release, detach or quiesce it
            for (GateStep step : GateStep.values()) {
                assertThatThrownBy(() -> other.gate(1, step, "elsewhere")).isInstanceOf(NvmeException.class)
                        .hasMessageContaining("another client");
            }
            assertThatThrownBy(() -> vmm.gate(1, GateStep.DETACH, "agent test")).hasMessageContaining("not suspended");
            vmm.gate(1, GateStep.RELEASE, "");
            assertThat(a.get(10, TimeUnit.SECONDS).ok()).isTrue();
            assertThat(b.get(10, TimeUnit.SECONDS).ok()).isTrue();
            MemorySegment back = guest.allocateBuffer(4096);
            guest.io(IoCommands.read(1, 3, 1).toSqe(), back).orThrow("read");
            assertThat(back.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 3);
        }
    }

    @Test
    void afterTheDetachHeldAndLaterCommandsFailAndNewClientsAreToldWhereItWent() throws Exception {
        try (SimNvmeDevice guest = open(1); SimNvmeDevice vmm = open(0)) {
            write(guest, 1, (byte) 1).get(10, TimeUnit.SECONDS).orThrow("write before");
            vmm.gate(1, GateStep.QUIESCE, "agent 127.0.0.1:7340");
            CompletableFuture<Completion> held = write(guest, 2, (byte) 2);
            CompletableFuture<Completion> heldFlush = guest.submitIo(IoCommands.flush(1), null);
            awaitHeld(2);
            vmm.admin(new MigrationSendCommand.Suspend(1, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe(), null).orThrow("suspend");
            vmm.gate(1, GateStep.DETACH, "agent 127.0.0.1:7340 (migration m1)");
            Completion c = held.get(10, TimeUnit.SECONDS);
            assertThat(c.status().is(StatusCodes.ABORT_SQ_DELETED)).as(c.status().toString()).isTrue();
            assertThat(c.status().dnr()).isTrue();
            assertThat(write(guest, 4, (byte) 4).get(10, TimeUnit.SECONDS).status().is(StatusCodes.ABORT_SQ_DELETED)).isTrue();
            // a Flush succeeds: everything acknowledged is durable at the destination, and a source
            // QEMU flushes as it inactivates its disk after the switchover (IoGate)
            assertThat(heldFlush.get(10, TimeUnit.SECONDS).ok()).as("a Flush held across the detach").isTrue();
            assertThat(guest.submitIo(IoCommands.flush(1), null).get(10, TimeUnit.SECONDS).ok()).as("a Flush after the detach").isTrue();
            assertThatThrownBy(() -> open(1)).hasMessageContaining("controller 1 is suspended: migrated to agent 127.0.0.1:7340 (migration m1)");
            assertThatThrownBy(() -> vmm.gate(1, GateStep.QUIESCE, "again")).hasMessageContaining("migrated to agent 127.0.0.1:7340");
            // a Resume makes MC 1 usable afresh, as after a local switchover's reset
            vmm.admin(new MigrationSendCommand.Resume(1, 0).toSqe(), null).orThrow("resume");
            try (SimNvmeDevice again = open(1)) {
                assertThat(write(again, 5, (byte) 5).get(10, TimeUnit.SECONDS).ok()).isTrue();
            }
        }
    }

    @Test
    void aMigratingClientThatGoesAwayReleasesWhatItHeld() throws Exception {
        try (SimNvmeDevice guest = open(1)) {
            write(guest, 1, (byte) 1).get(10, TimeUnit.SECONDS).orThrow("write before");
            CompletableFuture<Completion> held;
            try (SimNvmeDevice vmm = open(0)) {
                vmm.gate(1, GateStep.QUIESCE, "agent test");
                held = write(guest, 2, (byte) 2);
                awaitHeld(1);
            }
            assertThat(held.get(10, TimeUnit.SECONDS).ok()).as("submitted when the migrating client left").isTrue();
        }
    }
}
