package dev.nvmelm.cli;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.embedded.DeviceServer;
import dev.nvmelm.host.sim.SimMessage.GateStep;
import dev.nvmelm.host.sim.SimNvmeDevice;
import dev.nvmelm.spec.MigrationSendCommand;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * An NBD export's namespace (LazyNamespace) of a controller whose guests were detached after a
 * move to another host: its writes fail while the controller stays suspended, and go through
 * again once a Resume made the controller usable afresh (it kept the detached driver before).
 */
class LazyNamespaceTest {
    @TempDir
    Path dir;
    DeviceServer server;

    @BeforeEach
    void start() throws Exception {
        server = DeviceServer.start(new Subsystem.Config(dir, 16 << 20, 1, 2, 4096), 32 << 20, null);
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
    }

    static MemorySegment block(byte value) {
        byte[] b = new byte[4096];
        java.util.Arrays.fill(b, value);
        return MemorySegment.ofArray(b);
    }

    @Test
    void afterADetachAndAResumeTheExportWritesThroughAFreshDriver() throws Exception {
        LazyNamespace ns = new LazyNamespace(server, 1, 1);
        ns.write(0, block((byte) 1));   // attaches the driver of MC 1
        try (SimNvmeDevice vmm = SimNvmeDevice.open(server.deviceString(), Duration.ofSeconds(10))) {
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
