package dev.nvmelm.cli;

import dev.nvmelm.host.sim.SimMessage.GateStep;
import dev.nvmelm.host.sim.SimNvmeDevice;
import dev.nvmelm.spec.MigrationSendCommand;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * An NBD export's namespace (LazyNamespace) of a controller whose guests were detached after a
 * move to another host: its writes fail while the controller stays suspended, and go through
 * again once a Resume made the controller usable afresh (it kept the detached driver before).
 */
class LazyNamespaceTest extends dev.nvmelm.embedded.ServedSubsystemFixture {
    static MemorySegment block(byte value) {
        byte[] b = new byte[4096];
        java.util.Arrays.fill(b, value);
        return MemorySegment.ofArray(b);
    }

    @Test
    void afterADetachAndAResumeTheExportWritesThroughAFreshDriver() throws Exception {
        LazyNamespace ns = new LazyNamespace(server, 1, 1);
        ns.write(0, block((byte) 1));   // attaches the driver of MC 1
        try (SimNvmeDevice vmm = open(0)) {
            vmm.gate(1, GateStep.QUIESCE, "agent 127.0.0.1:7340");
            vmm.admin(new MigrationSendCommand.Suspend(1, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe(), null).orThrow("suspend");
            vmm.gate(1, GateStep.DETACH, "agent 127.0.0.1:7340 (migration m1)");
            assertThatThrownBy(() -> ns.write(4096, block((byte) 2))).isInstanceOf(IOException.class).hasMessageContaining("0x4008");
            vmm.admin(new MigrationSendCommand.Resume(1, 0).toSqe(), null).orThrow("resume");
        }
        ns.write(8192, block((byte) 3));
        MemorySegment back = ns.allocateBuffer(4096);
        ns.read(8192, back);
        assertThat(back.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 4095)).isEqualTo((byte) 3);
    }
}
