package dev.nvmelm.host.linux;

import dev.nvmelm.host.NvmeException;
import dev.nvmelm.spec.AdminOpcode;
import dev.nvmelm.spec.Sqe;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Opens an NVMe device node for {@link LinuxNvmeDevice} and finds out what it is (controller,
 * namespace block device, generic namespace node) without side effects on anything else: a
 * foreign node is turned away by its sysfs identity before open(2), and the passthrough ioctl is
 * probed without sending a command. Every failure is one line naming the node and what to do.
 */
final class NodeOpener {
    private NodeOpener() {}

    /** See {@link LinuxNvmeDevice#open(String, Duration, Path)}. */
    static LinuxNvmeDevice open(String path, Duration timeout, Path sysfs) throws NvmeException {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(timeout, "timeout");
        if (path.isEmpty()) throw new NvmeException("no device given; name a controller /dev/nvmeX or a namespace /dev/nvmeXnY or /dev/ngXnY");
        if (timeout.isNegative() || timeout.isZero() || timeout.toMillis() < 1 || timeout.toMillis() > 0xffff_ffffL) {
            throw new NvmeException(path + ": timeout must be 1 .. 4294967295 ms, got " + timeout.toMillis() + " ms");
        }
        NvmeIoctl.checkArchitecture();
        Libc.Stat st;
        try {
            st = Libc.stat(path);
        } catch (LibcException e) {
            throw openFailure(path, e);
        }
        if (!st.isCharDevice() && !st.isBlockDevice()) throw notADevice(path, st);
        // Before open(2): opening some devices has effects (a watchdog arms, a tape rewinds), and
        // some drivers answer any unknown ioctl with EINVAL or even success, so foreign devices
        // are turned away by their sysfs identity, not probed.
        checkSysfsIdentity(path, st, sysfs);
        int fd;
        try {
            fd = Libc.open(path, Libc.O_RDWR | Libc.O_CLOEXEC | Libc.O_NOCTTY);
        } catch (LibcException e) {
            throw openFailure(path, e);
        }
        try {
            Libc.Stat opened = Libc.fstat(fd);   // the node actually opened, not the one stat saw
            if (opened.type() != st.type() || opened.rdevMajor() != st.rdevMajor() || opened.rdevMinor() != st.rdevMinor()) {
                throw new NvmeException(path + ": the device node changed while it was being opened; try again");
            }
            boolean wide;
            if (answersPassthrough(fd, NvmeIoctl.NVME_IOCTL_ADMIN64_CMD, true)) wide = true;
            else if (answersPassthrough(fd, NvmeIoctl.NVME_IOCTL_ADMIN_CMD, false)) wide = false;
            else {
                throw new NvmeException(path + ": is not an NVMe device, or its driver does not support NVMe passthrough"
                        + " (NVME_IOCTL_ADMIN64_CMD and NVME_IOCTL_ADMIN_CMD: ENOTTY); give a controller /dev/nvmeX"
                        + " or a namespace /dev/nvmeXnY or /dev/ngXnY (list them with 'ls /dev/nvme* /dev/ng*')");
            }
            LinuxNvmeDevice.NodeKind kind;
            int nsid = 0;
            try {
                nsid = Libc.ioctl(fd, NvmeIoctl.NVME_IOCTL_ID, MemorySegment.NULL, "NVME_IOCTL_ID");
                kind = opened.isBlockDevice() ? LinuxNvmeDevice.NodeKind.NAMESPACE_BLOCK : LinuxNvmeDevice.NodeKind.NAMESPACE_GENERIC;
            } catch (LibcException e) {
                // Only the controller node (a character device) lacks NVME_IOCTL_ID
                if (e.errno() != Libc.ENOTTY || opened.isBlockDevice()) {
                    throw new NvmeException(path + ": is not an NVMe namespace (NVME_IOCTL_ID: " + e.errnoName()
                            + "); give a controller /dev/nvmeX or a namespace /dev/nvmeXnY or /dev/ngXnY");
                }
                kind = LinuxNvmeDevice.NodeKind.CONTROLLER;
            }
            if (kind != LinuxNvmeDevice.NodeKind.CONTROLLER && nsid == 0) {
                throw new NvmeException(path + ": NVME_IOCTL_ID returned NSID 0, so this is not an NVMe namespace node");
            }
            return new LinuxNvmeDevice(path, fd, kind, nsid, wide, timeout, LinuxNvmeDevice.DEFAULT_THREADS);
        } catch (NvmeException | RuntimeException e) {
            Libc.closeQuietly(fd);
            throw e;
        } catch (LibcException e) {
            Libc.closeQuietly(fd);
            throw new NvmeException(path + ": " + e.getMessage());
        }
    }

    private static final Pattern NVME_BLOCK_NAME = Pattern.compile("nvme\\d+(c\\d+)?n\\d+(p\\d+)?");

    /**
     * Character devices: the sysfs class must be {@code nvme} (controller) or {@code nvme-generic}
     * (/dev/ngXnY). Block devices: the kernel's name must be an NVMe namespace or partition
     * (nvme0n1, nvme0n1p2, nvme0c0n1). Nothing is decided when sysfs does not show the node.
     */
    static void checkSysfsIdentity(String path, Libc.Stat st, Path sysfs) throws NvmeException {
        Path node = sysfs.resolve("dev").resolve(st.isBlockDevice() ? "block" : "char").resolve(st.rdevMajor() + ":" + st.rdevMinor());
        String devNumbers = st.rdevMajor() + ":" + st.rdevMinor();
        try {
            if (st.isCharDevice()) {
                String cls = node.resolve("subsystem").toRealPath().getFileName().toString();
                if (!cls.equals("nvme") && !cls.equals("nvme-generic")) {
                    throw new NvmeException(path + ": is not an NVMe device (it is a '" + cls + "' character device " + devNumbers
                            + "); give a controller /dev/nvmeX or a namespace /dev/nvmeXnY or /dev/ngXnY (list them with 'ls /dev/nvme* /dev/ng*')");
                }
            } else {
                String name = node.toRealPath().getFileName().toString();
                if (!NVME_BLOCK_NAME.matcher(name).matches()) {
                    throw new NvmeException(path + ": is not an NVMe device (it is the block device '" + name + "' " + devNumbers
                            + "); give a controller /dev/nvmeX or a namespace /dev/nvmeXnY or /dev/ngXnY (list them with 'ls /dev/nvme* /dev/ng*')");
                }
            }
        } catch (IOException | SecurityException e) {
            // no sysfs entry to go by: the ioctl probes decide
        }
    }

    /**
     * Whether the passthrough ioctl exists on this descriptor, without sending a command: a
     * struct with non-zero flags is refused with EINVAL before the permission check and before
     * anything is submitted (nvme_user_cmd64), while a node without the ioctl answers ENOTTY.
     * The probe command is a harmless Get Features (Number of Queues) in case a kernel ever
     * accepted the flags.
     */
    static boolean answersPassthrough(int fd, long request, boolean wide) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cmd = a.allocate(NvmeIoctl.PASSTHRU_CMD64);
            NvmeIoctl.encode(cmd, wide, Sqe.of(AdminOpcode.GET_FEATURES).withCdw10(0x07), 0, 0, 1000);
            cmd.set(ValueLayout.JAVA_BYTE, NvmeIoctl.FLAGS, (byte) 0xff);
            Libc.ioctl(fd, request, cmd, NvmeIoctl.name(request));
            return true;
        } catch (LibcException e) {
            return e.errno() != Libc.ENOTTY;
        }
    }

    private static NvmeException notADevice(String path, Libc.Stat st) {
        return new NvmeException(path + ": is not an NVMe device (it is " + st.typeName() + "); give a controller /dev/nvmeX"
                + " or a namespace /dev/nvmeXnY or /dev/ngXnY (list them with 'ls /dev/nvme* /dev/ng*')");
    }

    static NvmeException openFailure(String path, LibcException e) {
        return switch (e.errno()) {
            case Libc.ENOENT -> new NvmeException(path + ": no such device; list the NVMe devices with 'ls /dev/nvme* /dev/ng*'"
                    + " (controllers are /dev/nvmeX, namespaces /dev/nvmeXnY and /dev/ngXnY)");
            case Libc.EACCES, Libc.EPERM -> new NvmeException(path + ": permission denied (" + e.errnoName()
                    + "); NVMe passthrough needs root or CAP_SYS_ADMIN: run nvme-lm as root");
            case Libc.ENXIO, Libc.ENODEV -> new NvmeException(path + ": the device node exists but no device answers it ("
                    + e.errnoName() + "); the controller may have been removed or unbound: check 'nvme list' and 'dmesg'");
            case Libc.ENOTDIR, Libc.ELOOP, Libc.ENAMETOOLONG -> new NvmeException(path + ": not a usable device path ("
                    + e.errnoName() + "); give a controller /dev/nvmeX or a namespace /dev/nvmeXnY or /dev/ngXnY");
            case Libc.EROFS -> new NvmeException(path + ": the device is read-only (EROFS); nvme-lm opens devices read-write");
            case Libc.EBUSY -> new NvmeException(path + ": the device is busy (EBUSY); another program holds it exclusively");
            default -> new NvmeException(path + ": cannot open: " + e.getMessage());
        };
    }
}
