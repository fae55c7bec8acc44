package dev.nvmelm.host.linux;

import dev.nvmelm.host.NvmeException;
import dev.nvmelm.spec.Sqe;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.Locale;
import java.util.Set;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The Linux NVMe ioctl uAPI as data: struct layouts and request numbers
 * (Linux include/uapi/linux/nvme_ioctl.h and the RFC structs of docs/linux-backend.md). Structures are host-endian
 * (the kernel converts to little-endian itself), naturally aligned, with no packing; every
 * offset and size is pinned in {@code NvmeIoctlTest}. Request numbers are computed from the
 * asm-generic {@code _IOC} macro, so a changed struct size changes the number as it does in C.
 *
 * <p>The CDQ structures are from unmerged RFCs (a moving target): each lives here and in
 * {@link CdqIoctl} only, so a new revision is a change to those two files.
 */
final class NvmeIoctl {
    private NvmeIoctl() {}

    // asm-generic/ioctl.h: _IOC(dir,type,nr,size) = dir<<30 | size<<16 | type<<8 | nr
    static final int IOC_NONE = 0, IOC_WRITE = 1, IOC_READ = 2;
    static final int IOC_SIZEBITS = 14;
    static final char NVME_TYPE = 'N';

    static long ioc(int dir, char type, int nr, long size) {
        if (dir < 0 || dir > 3) throw new IllegalArgumentException("_IOC dir " + dir);
        if (type > 0xff || nr < 0 || nr > 0xff) throw new IllegalArgumentException("_IOC type/nr out of range");
        if (size < 0 || size >= 1L << IOC_SIZEBITS) throw new IllegalArgumentException("_IOC size " + size + " does not fit 14 bits");
        return (long) dir << 30 | size << 16 | (long) type << 8 | nr;
    }

    static long io(int nr) { return ioc(IOC_NONE, NVME_TYPE, nr, 0); }

    static long ior(int nr, MemoryLayout l) { return ioc(IOC_READ, NVME_TYPE, nr, l.byteSize()); }

    static long iowr(int nr, MemoryLayout l) { return ioc(IOC_READ | IOC_WRITE, NVME_TYPE, nr, l.byteSize()); }

    /** The fields shared by both passthrough structs, offsets 0..67 (linux/nvme_ioctl.h). */
    private static MemoryLayout[] passthruHead() {
        return new MemoryLayout[] {
                JAVA_BYTE.withName("opcode"), JAVA_BYTE.withName("flags"), JAVA_SHORT.withName("rsvd1"),
                JAVA_INT.withName("nsid"), JAVA_INT.withName("cdw2"), JAVA_INT.withName("cdw3"),
                JAVA_LONG.withName("metadata"), JAVA_LONG.withName("addr"),
                JAVA_INT.withName("metadata_len"), JAVA_INT.withName("data_len"),
                JAVA_INT.withName("cdw10"), JAVA_INT.withName("cdw11"), JAVA_INT.withName("cdw12"),
                JAVA_INT.withName("cdw13"), JAVA_INT.withName("cdw14"), JAVA_INT.withName("cdw15"),
                JAVA_INT.withName("timeout_ms")};
    }

    private static MemoryLayout[] plus(MemoryLayout[] head, MemoryLayout... tail) {
        MemoryLayout[] all = java.util.Arrays.copyOf(head, head.length + tail.length);
        System.arraycopy(tail, 0, all, head.length, tail.length);
        return all;
    }

    /** struct nvme_passthru_cmd (= nvme_admin_cmd): 72 bytes, result = CQE DW0 at 68. */
    static final StructLayout PASSTHRU_CMD = MemoryLayout.structLayout(plus(passthruHead(), JAVA_INT.withName("result")))
            .withName("nvme_passthru_cmd");

    /** struct nvme_passthru_cmd64: 80 bytes, rsvd2 at 68, result = DW0 | DW1 << 32 at 72. */
    static final StructLayout PASSTHRU_CMD64 = MemoryLayout.structLayout(plus(passthruHead(),
            JAVA_INT.withName("rsvd2"), JAVA_LONG.withName("result"))).withName("nvme_passthru_cmd64");

    /**
     * struct nvme_cdq_cmd of the NVME_IOCTL_CDQ series (intel-lab-lkp/linux, Joelgranados/linux
     * {@code include/uapi/linux/nvme_ioctl.h}; docs/linux-backend.md): {u16 mc_id; u32 size_nbyte;
     * s32 tpt_fd; s32 cdq_fd}, 16 bytes. size_nbyte 0 deletes the CDQ of mc_id; cdq_fd is returned.
     */
    static final StructLayout CDQ_CMD = MemoryLayout.structLayout(
            JAVA_SHORT.withName("mc_id"), MemoryLayout.paddingLayout(2),
            JAVA_INT.withName("size_nbyte"), JAVA_INT.withName("tpt_fd"), JAVA_INT.withName("cdq_fd")).withName("nvme_cdq_cmd");

    /**
     * struct nvme_cdq_cmd of RFC v1 (2025-07-14, docs/linux-backend.md): {u32 entry_nr;
     * u32 entry_nbyte; u16 cdq_id; u16 cqs; u16 mos; u32 cdqp_offset; u32 cdqp_mask; int read_fd},
     * 28 bytes. cdq_id and read_fd are returned.
     */
    static final StructLayout CDQ_CMD_V1 = MemoryLayout.structLayout(
            JAVA_INT.withName("entry_nr"), JAVA_INT.withName("entry_nbyte"),
            JAVA_SHORT.withName("cdq_id"), JAVA_SHORT.withName("cqs"), JAVA_SHORT.withName("mos"), MemoryLayout.paddingLayout(2),
            JAVA_INT.withName("cdqp_offset"), JAVA_INT.withName("cdqp_mask"), JAVA_INT.withName("read_fd")).withName("nvme_cdq_cmd_v1");

    static final long NVME_IOCTL_ID = io(0x40);
    static final long NVME_IOCTL_ADMIN_CMD = iowr(0x41, PASSTHRU_CMD);
    static final long NVME_IOCTL_IO_CMD = iowr(0x43, PASSTHRU_CMD);
    static final long NVME_IOCTL_ADMIN64_CMD = iowr(0x47, PASSTHRU_CMD64);
    static final long NVME_IOCTL_IO64_CMD = iowr(0x48, PASSTHRU_CMD64);
    /** _IOWR('N', 0x50, struct nvme_cdq_cmd): the 16-byte CDQ ioctl. */
    static final long NVME_IOCTL_CDQ = iowr(0x50, CDQ_CMD);
    /** _IOR('N', 0x50, struct nvme_cdq_cmd) of RFC v1 (it is _IOR although the kernel writes results back). */
    static final long NVME_IOCTL_ADMIN_CDQ_V1 = ior(0x50, CDQ_CMD_V1);

    static String name(long request) {
        if (request == NVME_IOCTL_ID) return "NVME_IOCTL_ID";
        if (request == NVME_IOCTL_ADMIN_CMD) return "NVME_IOCTL_ADMIN_CMD";
        if (request == NVME_IOCTL_IO_CMD) return "NVME_IOCTL_IO_CMD";
        if (request == NVME_IOCTL_ADMIN64_CMD) return "NVME_IOCTL_ADMIN64_CMD";
        if (request == NVME_IOCTL_IO64_CMD) return "NVME_IOCTL_IO64_CMD";
        if (request == NVME_IOCTL_CDQ) return "NVME_IOCTL_CDQ";
        if (request == NVME_IOCTL_ADMIN_CDQ_V1) return "NVME_IOCTL_ADMIN_CDQ";
        return Libc.hex(request);
    }

    static long offset(StructLayout l, String field) {
        return l.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    // Offsets used on the hot path, resolved once.
    static final long OPCODE = offset(PASSTHRU_CMD64, "opcode"), FLAGS = offset(PASSTHRU_CMD64, "flags"),
            NSID = offset(PASSTHRU_CMD64, "nsid"), CDW2 = offset(PASSTHRU_CMD64, "cdw2"), CDW3 = offset(PASSTHRU_CMD64, "cdw3"),
            METADATA = offset(PASSTHRU_CMD64, "metadata"), ADDR = offset(PASSTHRU_CMD64, "addr"),
            METADATA_LEN = offset(PASSTHRU_CMD64, "metadata_len"), DATA_LEN = offset(PASSTHRU_CMD64, "data_len"),
            CDW10 = offset(PASSTHRU_CMD64, "cdw10"), TIMEOUT_MS = offset(PASSTHRU_CMD64, "timeout_ms"),
            RESULT32 = offset(PASSTHRU_CMD, "result"), RESULT64 = offset(PASSTHRU_CMD64, "result");

    /**
     * Fills a passthrough struct from an SQE (NVMe Base 2.1, Figure "Common Command Format"): opcode, NSID, CDW2-3, CDW10-15 and
     * the user buffer. Flags stay 0 (the kernel rejects anything else), the metadata pointer stays
     * 0, and PRPs and CID belong to the kernel. The whole struct, result included, is rewritten.
     */
    static void encode(MemorySegment cmd, boolean wide, Sqe sqe, long addr, long dataLenBytes, long timeoutMs) {
        long need = (wide ? PASSTHRU_CMD64 : PASSTHRU_CMD).byteSize();
        if (cmd.byteSize() < need) throw new IllegalArgumentException("passthrough struct needs " + need + " bytes, got " + cmd.byteSize());
        cmd.fill((byte) 0);
        cmd.set(JAVA_BYTE, OPCODE, (byte) sqe.opcode());
        cmd.set(JAVA_BYTE, FLAGS, (byte) 0);
        cmd.set(JAVA_INT, NSID, sqe.nsid());
        cmd.set(JAVA_INT, CDW2, sqe.cdw2());
        cmd.set(JAVA_INT, CDW3, sqe.cdw3());
        cmd.set(JAVA_LONG, METADATA, 0L);
        cmd.set(JAVA_LONG, ADDR, addr);
        cmd.set(JAVA_INT, METADATA_LEN, 0);
        cmd.set(JAVA_INT, DATA_LEN, (int) dataLenBytes);
        for (int i = 0; i < 6; i++) cmd.set(JAVA_INT, CDW10 + 4L * i, sqe.cdw(10 + i));
        cmd.set(JAVA_INT, TIMEOUT_MS, (int) timeoutMs);
    }

    /** The result: DW0 | DW1 << 32 for the 64-bit ioctls, DW0 (zero-extended) for the 32-bit ones. */
    static long result(MemorySegment cmd, boolean wide) {
        return wide ? cmd.get(JAVA_LONG, RESULT64) : Integer.toUnsignedLong(cmd.get(JAVA_INT, RESULT32));
    }

    private static final Set<String> GENERIC_IOC_ARCHES = Set.of("amd64", "x86_64", "aarch64", "riscv64");

    /**
     * The request numbers and errno values here are the asm-generic ones. powerpc, mips and
     * sparc encode _IOC differently (their asm/ioctl.h), so they are refused rather than guessed.
     */
    static void checkArchitecture() throws NvmeException {
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        if (!os.contains("linux")) throw new NvmeException("the Linux NVMe backend runs on Linux only (this is " + os + ")");
        if (!GENERIC_IOC_ARCHES.contains(arch)) {
            throw new NvmeException("the Linux NVMe backend supports x86_64, aarch64 and riscv64 only (this is " + arch
                    + ", whose ioctl numbers differ)");
        }
    }
}
