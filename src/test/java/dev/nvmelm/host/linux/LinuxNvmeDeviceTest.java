package dev.nvmelm.host.linux;

import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.IoOpcode;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.TrackSendCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Opening and command paths that need no root and no NVMe hardware: each failure is one clear
 * line naming the device and what to do. Commands run real ioctls on /dev/null, which answers
 * ENOTTY as any non-NVMe node does.
 */
class LinuxNvmeDeviceTest {
    private static final Duration T = Duration.ofSeconds(10);
    private static final Sqe IDENTIFY_CTRL = new AdminCommands.Identify(1, 0, 0, 0).toSqe();

    private static void assertOneLine(Throwable e, String path) {
        assertThat(e).isInstanceOf(NvmeException.class);
        assertThat(e.getMessage()).startsWith(path + ": ").doesNotContain("\n");
    }

    @Test
    void aMissingDeviceSaysSoAndHowToListDevices(@TempDir Path dir) {
        String path = dir.resolve("nvme9").toString();
        assertThatThrownBy(() -> LinuxNvmeDevice.open(path, T)).satisfies(e -> {
            assertOneLine(e, path);
            assertThat(e.getMessage()).contains("no such device").contains("ls /dev/nvme*");
        });
    }

    @Test
    void aRegularFileIsNotAnNvmeDevice(@TempDir Path dir) throws Exception {
        Path f = Files.write(dir.resolve("disk.img"), new byte[4096]);
        assertThatThrownBy(() -> LinuxNvmeDevice.open(f.toString(), T)).satisfies(e -> {
            assertOneLine(e, f.toString());
            assertThat(e.getMessage()).contains("is not an NVMe device (it is a regular file)").contains("/dev/nvmeX");
        });
    }

    @Test
    void aDirectoryIsNotAnNvmeDevice(@TempDir Path dir) {
        assertThatThrownBy(() -> LinuxNvmeDevice.open(dir.toString(), T)).satisfies(e -> {
            assertOneLine(e, dir.toString());
            assertThat(e.getMessage()).contains("is not an NVMe device (it is a directory)");
        });
    }

    @Test
    void aCharacterDeviceOfAnotherDriverIsTurnedAwayByItsSysfsClassBeforeItIsOpened() {
        assumeTrue(Files.isDirectory(Path.of("/sys/dev/char")), "no sysfs here");
        assertThatThrownBy(() -> LinuxNvmeDevice.open("/dev/null", T)).satisfies(e -> {
            assertOneLine(e, "/dev/null");
            assertThat(e.getMessage()).startsWith("/dev/null: is not an NVMe device (it is a 'mem' character device 1:3)");
        });
    }

    @Test
    void aBlockDeviceOfAnotherDriverIsTurnedAwayByItsKernelName() {
        assumeTrue(Files.isDirectory(Path.of("/sys/dev/block")), "no sysfs here");
        assumeTrue(Files.exists(Path.of("/dev/loop0")), "no /dev/loop0 here");
        assertThatThrownBy(() -> LinuxNvmeDevice.open("/dev/loop0", T)).satisfies(e -> {
            assertOneLine(e, "/dev/loop0");
            assertThat(e.getMessage()).startsWith("/dev/loop0: is not an NVMe device (it is the block device 'loop0' 7:0)");
        });
    }

    /** Without sysfs (some containers) the passthrough probe decides: a real ioctl answered with ENOTTY. */
    @Test
    void withoutSysfsACharacterDeviceThatAnswersEnottyIsNotAnNvmeDevice(@TempDir Path noSysfs) {
        for (String path : new String[] {"/dev/null", "/dev/zero"}) {
            assertThatThrownBy(() -> LinuxNvmeDevice.open(path, T, noSysfs.resolve("sys"))).satisfies(e -> {
                assertOneLine(e, path);
                assertThat(e.getMessage()).contains("is not an NVMe device, or its driver does not support NVMe passthrough")
                        .contains("NVME_IOCTL_ADMIN64_CMD and NVME_IOCTL_ADMIN_CMD: ENOTTY");
            });
        }
    }

    /** The identity rules on a sysfs-shaped tree of real symbolic links. */
    @Test
    void sysfsIdentityAcceptsNvmeClassesAndNamespaceNamesOnly(@TempDir Path sys) throws Exception {
        Path cls = Files.createDirectories(sys.resolve("class"));
        for (String c : new String[] {"nvme", "nvme-generic", "misc"}) Files.createDirectories(cls.resolve(c));
        Path dev = Files.createDirectories(sys.resolve("devices/pci0000:00/0000:00:04.0/nvme/nvme0"));
        link(sys, "dev/char/240:0", dev);
        Files.createSymbolicLink(dev.resolve("subsystem"), cls.resolve("nvme"));
        Path ng = Files.createDirectories(sys.resolve("devices/virtual/nvme-subsystem/nvme-subsys0/ng0n1"));
        link(sys, "dev/char/241:0", ng);
        Files.createSymbolicLink(ng.resolve("subsystem"), cls.resolve("nvme-generic"));
        Path wd = Files.createDirectories(sys.resolve("devices/virtual/misc/watchdog"));
        link(sys, "dev/char/10:130", wd);
        Files.createSymbolicLink(wd.resolve("subsystem"), cls.resolve("misc"));
        for (String name : new String[] {"nvme0n1", "nvme0n1p2", "nvme1c0n3", "loop0", "nvme0", "sda"}) {
            link(sys, "dev/block/259:" + Math.floorMod(name.hashCode(), 1000), Files.createDirectories(sys.resolve("devices/virtual/block/" + name)));
        }
        NodeOpener.checkSysfsIdentity("/dev/nvme0", new Libc.Stat(Libc.S_IFCHR | 0600, 240, 0), sys);
        NodeOpener.checkSysfsIdentity("/dev/ng0n1", new Libc.Stat(Libc.S_IFCHR | 0600, 241, 0), sys);
        assertThatThrownBy(() -> NodeOpener.checkSysfsIdentity("/dev/watchdog", new Libc.Stat(Libc.S_IFCHR | 0600, 10, 130), sys))
                .hasMessageStartingWith("/dev/watchdog: is not an NVMe device (it is a 'misc' character device 10:130)");
        for (String ok : new String[] {"nvme0n1", "nvme0n1p2", "nvme1c0n3"}) {
            NodeOpener.checkSysfsIdentity("/dev/" + ok, new Libc.Stat(Libc.S_IFBLK | 0600, 259, Math.floorMod(ok.hashCode(), 1000)), sys);
        }
        for (String bad : new String[] {"loop0", "nvme0", "sda"}) {
            assertThatThrownBy(() -> NodeOpener.checkSysfsIdentity("/dev/" + bad, new Libc.Stat(Libc.S_IFBLK | 0600, 259, Math.floorMod(bad.hashCode(), 1000)), sys))
                    .hasMessageContaining("(it is the block device '" + bad + "'");
        }
        // A node sysfs does not show is left to the ioctl probes
        NodeOpener.checkSysfsIdentity("/dev/x", new Libc.Stat(Libc.S_IFCHR | 0600, 99, 99), sys);
    }

    private static void link(Path sys, String rel, Path target) throws Exception {
        Path l = sys.resolve(rel);
        Files.createDirectories(l.getParent());
        Files.createSymbolicLink(l, target);
    }

    @Test
    void badArgumentsAreRefusedBeforeAnythingIsOpened() {
        assertThatThrownBy(() -> LinuxNvmeDevice.open("", T)).hasMessageContaining("no device given");
        assertThatThrownBy(() -> LinuxNvmeDevice.open("/dev/null", Duration.ZERO))
                .hasMessage("/dev/null: timeout must be 1 .. 4294967295 ms, got 0 ms");
        assertThatThrownBy(() -> LinuxNvmeDevice.open("/dev/null", Duration.ofMillis(1L << 32)))
                .hasMessageContaining("timeout must be");
    }

    /** Root bypasses file permissions (these tests may run as root), so the errno mapping is checked directly. */
    @Test
    void permissionAndVanishedDeviceErrnosMapToOneLineWithWhatToDo() {
        NvmeException acc = NodeOpener.openFailure("/dev/nvme0", new LibcException("open(/dev/nvme0)", Libc.EACCES));
        assertThat(acc.getMessage()).isEqualTo("/dev/nvme0: permission denied (EACCES); NVMe passthrough needs root or"
                + " CAP_SYS_ADMIN: run nvme-lm as root");
        assertThat(NodeOpener.openFailure("/dev/nvme0", new LibcException("open", Libc.EPERM)).getMessage())
                .contains("needs root or CAP_SYS_ADMIN");
        assertThat(NodeOpener.openFailure("/dev/nvme0", new LibcException("open", Libc.ENXIO)).getMessage())
                .contains("no device answers it (ENXIO)");
        assertThat(NodeOpener.openFailure("/dev/nvme0", new LibcException("open", Libc.EIO)).getMessage())
                .isEqualTo("/dev/nvme0: cannot open: open: Input/output error (EIO)");
    }

    /** A device object over /dev/null: the real command path, ending in the kernel's ENOTTY. */
    private static LinuxNvmeDevice overDevNull(LinuxNvmeDevice.NodeKind kind, int nsid) throws Exception {
        int fd = Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC);
        return new LinuxNvmeDevice("/dev/null", fd, kind, nsid, true, T, 2);
    }

    private static Throwable failure(CompletableFuture<Completion> f) throws Exception {
        try {
            f.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("command did not fail: " + f.get());
    }

    @Test
    void anAdminCommandOnANonNvmeDescriptorTriesBothIoctlsAndReportsEnotty() throws Exception {
        try (LinuxNvmeDevice d = overDevNull(LinuxNvmeDevice.NodeKind.CONTROLLER, 0)) {
            assertThat(d.adminIoctl()).isEqualTo("NVME_IOCTL_ADMIN64_CMD");
            MemorySegment buf = d.allocateBuffer(4096);
            Throwable e = failure(d.submitAdmin(IDENTIFY_CTRL, buf));
            assertOneLine(e, "/dev/null");
            assertThat(e.getMessage()).isEqualTo("/dev/null: is not an NVMe device, or its driver does not support NVMe"
                    + " passthrough (ioctl(NVME_IOCTL_ADMIN_CMD): ENOTTY)");
            assertThat(d.adminIoctl()).as("fell back after ENOTTY, as libnvme does").isEqualTo("NVME_IOCTL_ADMIN_CMD");
            assertThatThrownBy(() -> d.admin(IDENTIFY_CTRL, buf)).hasMessageContaining("ENOTTY");
        }
    }

    @Test
    void ioOnTheControllerNodeExplainsTheNamespaceNode() throws Exception {
        try (LinuxNvmeDevice d = overDevNull(LinuxNvmeDevice.NodeKind.CONTROLLER, 0)) {
            Throwable e = failure(d.submitIo(Sqe.of(IoOpcode.READ).withNsid(1), MemorySegment.ofArray(new byte[512])));
            assertThat(e.getMessage()).contains("ioctl(NVME_IOCTL_IO_CMD): ENOTTY").contains("open the namespace node");
        }
    }

    @Test
    void commandsLinuxPassthroughCannotCarryAreRefusedWithoutAnIoctl() throws Exception {
        try (LinuxNvmeDevice d = overDevNull(LinuxNvmeDevice.NodeKind.NAMESPACE_GENERIC, 1)) {
            Sqe fused = new Sqe(IoOpcode.WRITE.value(), 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
            assertThat(failure(d.submitIo(fused, null)).getMessage()).contains("is fused");
            assertThat(failure(d.submitAdmin(Sqe.raw(0xc3), d.allocateBuffer(16))).getMessage())
                    .isEqualTo("/dev/null: admin opcode C3h is bidirectional (opcode bits 1:0 = 11b); Linux passthrough transfers data one way only");
            assertThat(failure(d.submitIo(Sqe.of(IoOpcode.READ).withNsid(2), d.allocateBuffer(512))).getMessage())
                    .contains("I/O command for NSID 2 on the node of namespace 1");
            assertThat(d.namespaceId()).isEqualTo(1);
            java.lang.foreign.Arena gone = java.lang.foreign.Arena.ofConfined();
            MemorySegment freed = gone.allocate(512);
            gone.close();
            assertThat(failure(d.submitIo(Sqe.of(IoOpcode.WRITE).withNsid(1), freed)).getMessage())
                    .isEqualTo("/dev/null: the data buffer of Write (I/O opcode 01h) was already freed (its arena is closed)");
        }
    }

    @Test
    void aClosedDeviceRefusesCommands() throws Exception {
        LinuxNvmeDevice d = overDevNull(LinuxNvmeDevice.NodeKind.CONTROLLER, 0);
        d.close();
        assertThat(failure(d.submitAdmin(IDENTIFY_CTRL, null)).getMessage()).isEqualTo("/dev/null: device is closed");
        assertThatThrownBy(() -> d.createCdq(1, 4096)).hasMessage("/dev/null: device is closed");
        d.close();   // idempotent
    }

    @Test
    void buffersArePageAlignedZeroedAndExactlySized() throws Exception {
        try (LinuxNvmeDevice d = overDevNull(LinuxNvmeDevice.NodeKind.CONTROLLER, 0)) {
            for (long size : new long[] {1, 512, 4096, 4097, 1 << 20}) {
                MemorySegment b = d.allocateBuffer(size);
                assertThat(b.byteSize()).isEqualTo(size);
                assertThat(b.address() % LinuxNvmeDevice.PAGE_BYTES).isZero();
                assertThat(b.isNative()).isTrue();
                for (long i = 0; i < size; i += 511) assertThat(b.get(ValueLayout.JAVA_BYTE, i)).isZero();
            }
            assertThatThrownBy(() -> d.allocateBuffer(0)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void withoutTheCdqIoctlTheDeviceIsInPassthroughOnlyMode() throws Exception {
        try (LinuxNvmeDevice d = overDevNull(LinuxNvmeDevice.NodeKind.CONTROLLER, 0)) {
            assertThat(d.cdqSupport()).isEqualTo(CdqSupport.NONE);
            assertThatThrownBy(() -> d.createCdq(1, 4096)).isInstanceOf(NvmeException.class)
                    .hasMessage("/dev/null: this kernel does not offer the CDQ ioctl (RFC not applied; NVME_IOCTL_CDQ and"
                            + " NVME_IOCTL_ADMIN_CDQ: ENOTTY); passthrough-only mode: Track Send, Migration Send/Receive,"
                            + " Identify and Features still work");
            // Track Send itself still goes to the kernel as passthrough (here: ENOTTY from /dev/null)
            assertThat(failure(d.submitAdmin(TrackSendCommand.start(1).toSqe(), null)).getMessage()).contains("ENOTTY");
        }
    }

    @Test
    void createCdqValidatesItsArgumentsFirst() throws Exception {
        try (LinuxNvmeDevice d = overDevNull(LinuxNvmeDevice.NodeKind.CONTROLLER, 0)) {
            assertThatThrownBy(() -> d.createCdq(0xfff0, 4096)).hasMessage("/dev/null: CNTLID 65520 is out of range (0 .. 65519)");
            assertThatThrownBy(() -> d.createCdq(-1, 4096)).hasMessageContaining("out of range");
            assertThatThrownBy(() -> d.createCdq(1, 32)).hasMessageContaining("multiple of 32 bytes from 64");
            assertThatThrownBy(() -> d.createCdq(1, 100)).hasMessageContaining("got 100");
            assertThatThrownBy(() -> d.createCdq(1, 2L << 30)).hasMessageContaining("multiple of 32 bytes");
        }
    }
}
