package dev.nvmelm.host.linux;

import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.IdentifyController;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Runs only where an NVMe device is present and this process may open it read-write (root or
 * CAP_SYS_ADMIN); everywhere else JUnit reports it as skipped. Read-only commands only.
 */
class LinuxNvmeHardwareTest {
    private static final Duration T = Duration.ofSeconds(30);

    private static Optional<Path> first(String regex) throws IOException {
        Pattern p = Pattern.compile(regex);
        try (Stream<Path> s = Files.list(Path.of("/dev"))) {
            return s.filter(f -> p.matcher(f.getFileName().toString()).matches()).sorted().findFirst();
        }
    }

    private static Path usable(Optional<Path> dev) {
        assumeTrue(dev.isPresent(), "no such NVMe node on this machine");
        assumeTrue(Files.isReadable(dev.get()) && Files.isWritable(dev.get()), dev.get() + " is not read-write for this user");
        return dev.get();
    }

    @Test
    void identifyControllerThroughTheControllerNode() throws Exception {
        Path dev = usable(first("nvme[0-9]+"));
        try (LinuxNvmeDevice d = LinuxNvmeDevice.open(dev.toString(), T)) {
            assertThat(d.kind()).isEqualTo(LinuxNvmeDevice.NodeKind.CONTROLLER);
            MemorySegment buf = d.allocateBuffer(4096);
            Completion c = d.admin(new AdminCommands.Identify(1, 0, 0, 0).toSqe(), buf);
            assertThat(c.ok()).as("Identify Controller: %s", c.status()).isTrue();
            IdentifyController id = IdentifyController.decode(buf);
            assertThat(id.vid()).isNotZero();
            CdqSupport cdq = d.cdqSupport();
            if (cdq == CdqSupport.NONE) {
                assertThatThrownBy(() -> d.createCdq(id.cntlid(), 4096)).isInstanceOf(NvmeException.class)
                        .hasMessageContaining("passthrough-only mode");
            }
        }
    }

    @Test
    void identifyNamespaceThroughANamespaceNode() throws Exception {
        Path dev = usable(first("nvme[0-9]+n[0-9]+"));
        try (LinuxNvmeDevice d = LinuxNvmeDevice.open(dev.toString(), T)) {
            assertThat(d.kind()).isEqualTo(LinuxNvmeDevice.NodeKind.NAMESPACE_BLOCK);
            assertThat(d.namespaceId()).isPositive();
            MemorySegment buf = d.allocateBuffer(4096);
            Completion c = d.admin(new AdminCommands.Identify(0, 0, d.namespaceId(), 0).toSqe(), buf);
            assertThat(c.ok()).as("Identify Namespace: %s", c.status()).isTrue();
            assertThat(buf.get(ValueLayout.JAVA_LONG_UNALIGNED, 0)).as("NSZE").isPositive();
        }
    }
}
