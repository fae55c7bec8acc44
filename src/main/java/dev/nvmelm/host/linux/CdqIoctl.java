package dev.nvmelm.host.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The kernel CDQ ioctls (docs/linux-backend.md, "The CDQ"), kept in
 * one place because the uAPI is an unmerged RFC. Probes have no side effects:
 * <ul>
 *   <li>NVME_IOCTL_CDQ: a delete request (size_nbyte 0) for mc_id FFFFh, which no controller can
 *       have (CNTLIDs end at FFEFh), so a kernel that knows the ioctl answers with an error such as
 *       ENOENT and one that does not answers ENOTTY;</li>
 *   <li>RFC v1 NVME_IOCTL_ADMIN_CDQ: an all-zero struct, which v1 rejects with EINVAL before it
 *       sends anything (cdqp_offset 0 &gt;= entry_nbyte 0).</li>
 * </ul>
 * Any answer but ENOTTY (including EACCES) means the ioctl exists.
 */
final class CdqIoctl {
    private CdqIoctl() {}

    static final int PROBE_MC_ID = 0xffff;
    /** Create CDQ MOS: Queue Type 0, User Data Migration Queue (NVMe Base 2.1, section 5.1.4, Figures 161-168). */
    static final int MOS_QT_USER_DATA_MIGRATION = 0;
    /** The phase tag of a UDMQ entry: byte 31, bit 0 (NVM Command Set, Figure 177), as RFC v1 wants it described. */
    static final int PHASE_OFFSET = 31, PHASE_MASK = 1;

    private static final long MC_ID = NvmeIoctl.offset(NvmeIoctl.CDQ_CMD, "mc_id"),
            SIZE_NBYTE = NvmeIoctl.offset(NvmeIoctl.CDQ_CMD, "size_nbyte"),
            TPT_FD = NvmeIoctl.offset(NvmeIoctl.CDQ_CMD, "tpt_fd"),
            CDQ_FD = NvmeIoctl.offset(NvmeIoctl.CDQ_CMD, "cdq_fd");
    private static final long V1_ENTRY_NR = NvmeIoctl.offset(NvmeIoctl.CDQ_CMD_V1, "entry_nr"),
            V1_ENTRY_NBYTE = NvmeIoctl.offset(NvmeIoctl.CDQ_CMD_V1, "entry_nbyte"),
            V1_CDQ_ID = NvmeIoctl.offset(NvmeIoctl.CDQ_CMD_V1, "cdq_id"),
            V1_CQS = NvmeIoctl.offset(NvmeIoctl.CDQ_CMD_V1, "cqs"),
            V1_MOS = NvmeIoctl.offset(NvmeIoctl.CDQ_CMD_V1, "mos"),
            V1_CDQP_OFFSET = NvmeIoctl.offset(NvmeIoctl.CDQ_CMD_V1, "cdqp_offset"),
            V1_CDQP_MASK = NvmeIoctl.offset(NvmeIoctl.CDQ_CMD_V1, "cdqp_mask"),
            V1_READ_FD = NvmeIoctl.offset(NvmeIoctl.CDQ_CMD_V1, "read_fd");

    /** Which CDQ ioctl the kernel offers on this descriptor: the 16-byte one first, then v1. */
    static CdqSupport probe(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cmd = cdqCmd(a, PROBE_MC_ID, 0, -1);
            if (answers(fd, NvmeIoctl.NVME_IOCTL_CDQ, cmd)) return CdqSupport.RFC_V2;
            MemorySegment v1 = a.allocate(NvmeIoctl.CDQ_CMD_V1);   // zeroed
            if (answers(fd, NvmeIoctl.NVME_IOCTL_ADMIN_CDQ_V1, v1)) return CdqSupport.RFC_V1;
            return CdqSupport.NONE;
        }
    }

    /** A struct nvme_cdq_cmd; cdq_fd is preset to -1 so that a kernel that does not fill it in is noticed. */
    private static MemorySegment cdqCmd(Arena a, int mcId, int sizeNbyte, int tptFd) {
        MemorySegment cmd = a.allocate(NvmeIoctl.CDQ_CMD);
        cmd.set(JAVA_SHORT, MC_ID, (short) mcId);
        cmd.set(JAVA_INT, SIZE_NBYTE, sizeNbyte);
        cmd.set(JAVA_INT, TPT_FD, tptFd);
        cmd.set(JAVA_INT, CDQ_FD, -1);
        return cmd;
    }

    private static boolean answers(int fd, long request, MemorySegment arg) {
        try {
            Libc.ioctl(fd, request, arg, NvmeIoctl.name(request));
            return true;
        } catch (LibcException e) {
            return e.errno() != Libc.ENOTTY;
        }
    }

    /** What a create returned: the ioctl's value (&gt; 0 is an NVMe status), the fd and, for v1, the CDQID. */
    record Created(int rc, int fd, int cdqid) {}

    /**
     * NVME_IOCTL_CDQ create: mc_id = CNTLID, size_nbyte = entries * 32, tpt_fd = the eventfd.
     */
    static Created createV2(int fd, int cntlid, long sizeBytes, int tptFd) throws LibcException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cmd = cdqCmd(a, cntlid, (int) sizeBytes, tptFd);
            int rc = Libc.ioctl(fd, NvmeIoctl.NVME_IOCTL_CDQ, cmd, "NVME_IOCTL_CDQ");
            return new Created(rc, cmd.get(JAVA_INT, CDQ_FD), -1);
        }
    }

    /** NVME_IOCTL_CDQ delete: size_nbyte = 0 deletes the CDQ of mc_id (logging stops first). */
    static int deleteV2(int fd, int cntlid) throws LibcException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cmd = cdqCmd(a, cntlid, 0, -1);
            return Libc.ioctl(fd, NvmeIoctl.NVME_IOCTL_CDQ, cmd, "NVME_IOCTL_CDQ");
        }
    }

    /**
     * RFC v1 create: entry_nr entries of 32 bytes, cqs = CNTLID, mos = UDMQ, phase tag at byte 31
     * bit 0. Returns cdq_id and read_fd (read_fd preset to -1). Closing read_fd deletes the CDQ.
     */
    static Created createV1(int fd, int cntlid, int entryCount) throws LibcException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cmd = a.allocate(NvmeIoctl.CDQ_CMD_V1);
            cmd.set(JAVA_INT, V1_ENTRY_NR, entryCount);
            cmd.set(JAVA_INT, V1_ENTRY_NBYTE, MirrorRing.ENTRY_BYTES);
            cmd.set(JAVA_SHORT, V1_CQS, (short) cntlid);
            cmd.set(JAVA_SHORT, V1_MOS, (short) MOS_QT_USER_DATA_MIGRATION);
            cmd.set(JAVA_INT, V1_CDQP_OFFSET, PHASE_OFFSET);
            cmd.set(JAVA_INT, V1_CDQP_MASK, PHASE_MASK);
            cmd.set(JAVA_INT, V1_READ_FD, -1);
            int rc = Libc.ioctl(fd, NvmeIoctl.NVME_IOCTL_ADMIN_CDQ_V1, cmd, "NVME_IOCTL_ADMIN_CDQ");
            return new Created(rc, cmd.get(JAVA_INT, V1_READ_FD), Short.toUnsignedInt(cmd.get(JAVA_SHORT, V1_CDQ_ID)));
        }
    }
}
