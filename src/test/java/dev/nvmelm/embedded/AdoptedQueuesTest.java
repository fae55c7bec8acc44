package dev.nvmelm.embedded;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.host.pci.HostMemory;
import dev.nvmelm.host.pci.PciNvmeDevice;
import dev.nvmelm.block.NvmeBlockDevice;
import dev.nvmelm.migrate.state.ControllerStateMachine;
import dev.nvmelm.migrate.state.MigState;
import dev.nvmelm.spec.ControllerState;
import dev.nvmelm.spec.IoCqState;
import dev.nvmelm.spec.IoSqState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A migrated controller's I/O queues adopted by a served subsystem's driver where the controller
 * state names them (the destination agent's switch to serving): it continues at the queues'
 * tails, heads and phases, also after the source's queues wrapped (phase 0, which empty memory
 * would otherwise read as a new completion in every slot), and is the server's driver of that MC.
 */
class AdoptedQueuesTest {
    @TempDir
    Path dir;

    static void writeBlocks(NvmeBlockDevice d, int first, int count) throws Exception {
        MemorySegment b = d.allocateBuffer(4096);
        for (int i = first; i < first + count; i++) {
            b.fill((byte) i);
            d.write((long) i * 4096, b);
        }
    }

    @Test
    void queuesWhoseSourceWrappedContinueOnTheServersAdoptingDriver() throws Exception {
        byte[] state;
        try (HostMemory guestMemory = new HostMemory();
             EmbeddedSubsystem src = new EmbeddedSubsystem(new Subsystem.Config(dir.resolve("src"), 4 << 20, 1, 1, 4096), guestMemory, "src")) {
            PciNvmeDevice guest = new PciNvmeDevice(src.subsystem().controller(1), guestMemory, new PciNvmeDevice.Options("guest", 2, 8, Duration.ofSeconds(10), 4));
            writeBlocks(new NvmeBlockDevice(guest, 1), 0, 21);   // 8-entry queues used in turn: both wrap once
            ControllerStateMachine sm = new ControllerStateMachine(src.mmc(), 1, MigState.RUNNING);
            sm.transition(MigState.STOP);
            sm.transition(MigState.STOP_COPY);
            state = sm.savedState();
            guest.close();
        }
        ControllerState cs = ControllerState.decode(state);
        assertThat(cs.sqs()).hasSize(2);
        assertThat(cs.cqs()).as("a queue in its second lap").anyMatch(q -> !q.producerPhase());

        try (DeviceServer server = DeviceServer.start(new Subsystem.Config(dir.resolve("dst"), 4 << 20, 1, 2, 4096), 16 << 20, null)) {
            server.placeQueues(cs);   // before anything of the server's own is allocated
            ControllerStateMachine dm = new ControllerStateMachine(server.device(0), 1, MigState.RUNNING);
            dm.transition(MigState.STOP);
            dm.transition(MigState.RESUMING);
            dm.load(state);
            dm.transition(MigState.STOP);
            PciNvmeDevice adopted = server.adoptQueues(1, cs);
            dm.transition(MigState.RUNNING);
            assertThat(server.device(1)).as("the server's driver of MC 1").isSameAs(adopted);
            assertThat(server.guestDevice(1)).isSameAs(adopted);
            NvmeBlockDevice d = new NvmeBlockDevice(adopted, 1);
            writeBlocks(d, 0, 40);   // several more laps of both queues
            MemorySegment b = d.allocateBuffer(4096);
            for (int i = 0; i < 40; i++) {
                d.read((long) i * 4096, b);
                assertThat(b.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 4095)).as("block %d", i).isEqualTo((byte) i);
            }
            assertThatThrownBy(() -> server.adoptQueues(1, cs)).hasMessageContaining("already has a host driver");
        }
    }

    @Test
    void statesTheDriverCannotAdoptAreRefusedWithTheReason() throws Exception {
        long base = HostMemory.IOVA_BASE;
        ControllerState waiting = new ControllerState(0, true, 0, List.of(new IoSqState(base, 7, 1, 1, true, 0, 1, 3)),
                List.of(new IoCqState(base + 0x2000, 7, 1, 0, 0, true, true, true, 1)), new byte[0]);
        ControllerState far = new ControllerState(0, true, 0, List.of(new IoSqState(base + (1L << 30), 7, 1, 1, true, 0, 0, 0)),
                List.of(new IoCqState(base + 0x2000, 7, 1, 0, 0, true, true, true, 1)), new byte[0]);
        ControllerState polled = new ControllerState(0, true, 0, List.of(new IoSqState(base, 7, 1, 1, true, 0, 0, 0)),
                List.of(new IoCqState(base + 0x2000, 7, 1, 0, 0, true, false, true, 1)), new byte[0]);
        try (DeviceServer server = DeviceServer.start(new Subsystem.Config(dir.resolve("d"), 4 << 20, 1, 2, 4096), 16 << 20, null)) {
            assertThatThrownBy(() -> server.placeQueues(far)).hasMessageContaining("outside this host memory");
            server.placeQueues(waiting);
            assertThatThrownBy(() -> server.adoptQueues(2, waiting)).hasMessageContaining("cannot adopt SQ 1").hasMessageContaining("commands waiting");
            assertThatThrownBy(() -> server.adoptQueues(2, polled)).hasMessageContaining("polled CQ");
            assertThat(server.existingGuestDevice(2)).as("nothing was left behind").isEmpty();
            server.device(2);   // and the controller can still get a driver of its own
        }
    }
}
