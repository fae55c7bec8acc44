package dev.nvmelm.host.linux;

/**
 * Which CDQ interface the running kernel offers on a device node, as probed by
 * {@link LinuxNvmeDevice#cdqSupport()} (docs/linux-backend.md, "The CDQ"). Neither RFC is
 * merged; the names follow the order in which nvme-lm probes them.
 */
public enum CdqSupport {
    /**
     * {@code NVME_IOCTL_CDQ} = _IOWR('N', 0x50, 16-byte struct nvme_cdq_cmd) = 0xC0104E50: the
     * CDQ series with eventfd Tail Pointer Trigger notification. The kernel owns the ring, starts
     * logging (Track Send) when it creates the CDQ, reports the head itself and stops logging when
     * the CDQ is deleted; user space reads whole entries from the returned {@code cdq_fd}.
     */
    RFC_V2("NVME_IOCTL_CDQ (0xC0104E50)"),
    /**
     * {@code NVME_IOCTL_ADMIN_CDQ} = _IOR('N', 0x50, 28-byte struct) = 0x801C4E50 of RFC v1
     * (2025-07-14): the kernel owns the ring and reports the head after every read of the returned
     * {@code read_fd}; no notification; logging is started and stopped with Track Send.
     */
    RFC_V1("NVME_IOCTL_ADMIN_CDQ (0x801C4E50, RFC v1)"),
    /** Neither ioctl: the kernel answered ENOTTY to both. Passthrough-only mode. */
    NONE("none");

    private final String ioctl;

    CdqSupport(String ioctl) {
        this.ioctl = ioctl;
    }

    /** The ioctl, for messages. */
    public String ioctl() {
        return ioctl;
    }
}
