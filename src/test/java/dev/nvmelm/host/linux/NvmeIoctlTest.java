package dev.nvmelm.host.linux;

import dev.nvmelm.spec.AdminOpcode;
import dev.nvmelm.spec.Sqe;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.LinkedHashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Pins the uAPI: every field offset and size of the passthrough and CDQ structs against
 * Linux's include/uapi/linux/nvme_ioctl.h (checked with gcc against the system header) and the
 * RFC structs of docs/linux-backend.md, and every request number computed from _IOC against its
 * literal value there ("Request numbers").
 */
class NvmeIoctlTest {

    private static Map<String, long[]> fields(StructLayout l) {
        Map<String, long[]> m = new LinkedHashMap<>();
        for (MemoryLayout e : l.memberLayouts()) {
            e.name().ifPresent(n -> m.put(n, new long[] {l.byteOffset(MemoryLayout.PathElement.groupElement(n)), e.byteSize()}));
        }
        return m;
    }

    private static void assertField(StructLayout l, String name, long offset, long size) {
        assertThat(fields(l)).as("%s.%s", l.name().orElse("?"), name).containsKey(name);
        assertThat(fields(l).get(name)).as("%s.%s {offset, size}", l.name().orElse("?"), name).containsExactly(offset, size);
    }

    /** Offsets 0..67 are the same in both passthrough structs (docs/linux-backend.md, "Struct layouts"). */
    private static void assertPassthruHead(StructLayout l) {
        assertField(l, "opcode", 0, 1);
        assertField(l, "flags", 1, 1);
        assertField(l, "rsvd1", 2, 2);
        assertField(l, "nsid", 4, 4);
        assertField(l, "cdw2", 8, 4);
        assertField(l, "cdw3", 12, 4);
        assertField(l, "metadata", 16, 8);
        assertField(l, "addr", 24, 8);
        assertField(l, "metadata_len", 32, 4);
        assertField(l, "data_len", 36, 4);
        assertField(l, "cdw10", 40, 4);
        assertField(l, "cdw11", 44, 4);
        assertField(l, "cdw12", 48, 4);
        assertField(l, "cdw13", 52, 4);
        assertField(l, "cdw14", 56, 4);
        assertField(l, "cdw15", 60, 4);
        assertField(l, "timeout_ms", 64, 4);
    }

    @Test
    void passthruCmdIs72BytesWithA32BitResultAt68() {
        StructLayout l = NvmeIoctl.PASSTHRU_CMD;
        assertPassthruHead(l);
        assertField(l, "result", 68, 4);
        assertThat(l.byteSize()).isEqualTo(72);
        assertThat(l.byteAlignment()).isEqualTo(8);
        assertThat(fields(l)).hasSize(18);
    }

    @Test
    void passthruCmd64Is80BytesWithA64BitResultAt72() {
        StructLayout l = NvmeIoctl.PASSTHRU_CMD64;
        assertPassthruHead(l);
        assertField(l, "rsvd2", 68, 4);
        assertField(l, "result", 72, 8);
        assertThat(l.byteSize()).isEqualTo(80);
        assertThat(l.byteAlignment()).isEqualTo(8);
        assertThat(fields(l)).hasSize(19);
    }

    @Test
    void cdqCmdIs16BytesWithFieldsAt0_4_8_12() {
        StructLayout l = NvmeIoctl.CDQ_CMD;
        assertField(l, "mc_id", 0, 2);
        assertField(l, "size_nbyte", 4, 4);
        assertField(l, "tpt_fd", 8, 4);
        assertField(l, "cdq_fd", 12, 4);
        assertThat(l.byteSize()).isEqualTo(16);
        assertThat(l.byteAlignment()).isEqualTo(4);
    }

    @Test
    void cdqCmdV1Is28BytesWithFieldsAt0_4_8_10_12_16_20_24() {
        StructLayout l = NvmeIoctl.CDQ_CMD_V1;
        assertField(l, "entry_nr", 0, 4);
        assertField(l, "entry_nbyte", 4, 4);
        assertField(l, "cdq_id", 8, 2);
        assertField(l, "cqs", 10, 2);
        assertField(l, "mos", 12, 2);
        assertField(l, "cdqp_offset", 16, 4);
        assertField(l, "cdqp_mask", 20, 4);
        assertField(l, "read_fd", 24, 4);
        assertThat(l.byteSize()).isEqualTo(28);
    }

    @Test
    void requestNumbersComputedFromIocMatchTheReferenceLiterals() {
        assertThat(NvmeIoctl.NVME_IOCTL_ID).isEqualTo(0x00004E40L);
        assertThat(NvmeIoctl.NVME_IOCTL_ADMIN_CMD).isEqualTo(0xC0484E41L);
        assertThat(NvmeIoctl.NVME_IOCTL_IO_CMD).isEqualTo(0xC0484E43L);
        assertThat(NvmeIoctl.NVME_IOCTL_ADMIN64_CMD).isEqualTo(0xC0504E47L);
        assertThat(NvmeIoctl.NVME_IOCTL_IO64_CMD).isEqualTo(0xC0504E48L);
        assertThat(NvmeIoctl.NVME_IOCTL_CDQ).isEqualTo(0xC0104E50L);
        assertThat(NvmeIoctl.NVME_IOCTL_ADMIN_CDQ_V1).isEqualTo(0x801C4E50L);
        // Other numbers of linux/nvme_ioctl.h from the same macro, as a check of _IOC itself
        assertThat(NvmeIoctl.ioc(NvmeIoctl.IOC_WRITE, 'N', 0x42, 48)).isEqualTo(0x40304E42L);       // NVME_IOCTL_SUBMIT_IO
        assertThat(NvmeIoctl.io(0x44)).isEqualTo(0x4E44L);                                             // NVME_IOCTL_RESET
        assertThat(NvmeIoctl.iowr(0x49, NvmeIoctl.PASSTHRU_CMD64)).isEqualTo(0xC0504E49L);             // IO64_CMD_VEC
        assertThat(NvmeIoctl.iowr(0x80, NvmeIoctl.PASSTHRU_CMD)).isEqualTo(0xC0484E80L);               // URING_CMD_IO (72 B)
    }

    @Test
    void iocRejectsFieldsThatDoNotFit() {
        assertThatThrownBy(() -> NvmeIoctl.ioc(3, 'N', 0x100, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> NvmeIoctl.ioc(3, 'N', 0x40, 1 << 14)).hasMessageContaining("14 bits");
        assertThatThrownBy(() -> NvmeIoctl.ioc(4, 'N', 0x40, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void requestNamesForMessages() {
        assertThat(NvmeIoctl.name(0xC0504E47L)).isEqualTo("NVME_IOCTL_ADMIN64_CMD");
        assertThat(NvmeIoctl.name(0xC0104E50L)).isEqualTo("NVME_IOCTL_CDQ");
        assertThat(NvmeIoctl.name(0x801C4E50L)).isEqualTo("NVME_IOCTL_ADMIN_CDQ");
        assertThat(NvmeIoctl.name(0x1234L)).isEqualTo("0x1234");
    }

    @Test
    void encodePutsEverySqeFieldTheKernelTakesAtItsOffsetAndNothingElse() {
        // Distinct values everywhere, including the fields the kernel owns (flags, CID, MPTR, PRPs)
        Sqe sqe = new Sqe(0x42, 0x40, 0xbeef, 0x11111111, 0x22222222, 0x33333333, 0x4444444444444444L,
                0x5555555555555555L, 0x6666666666666666L, 0xa0a0a0a0, 0xb1b1b1b1, 0xc2c2c2c2, 0xd3d3d3d3, 0xe4e4e4e4, 0xf5f5f5f5);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cmd = a.allocate(NvmeIoctl.PASSTHRU_CMD64);
            cmd.fill((byte) 0x7f);   // garbage that encode must overwrite
            NvmeIoctl.encode(cmd, true, sqe, 0x7fff_0000_1000L, 8192, 30_000);
            assertThat(cmd.get(JAVA_BYTE, 0)).isEqualTo((byte) 0x42);
            assertThat(cmd.get(JAVA_BYTE, 1)).as("flags: the kernel refuses anything but 0").isZero();
            assertThat(cmd.get(JAVA_BYTE, 2)).as("rsvd1 (not the CID)").isZero();
            assertThat(cmd.get(JAVA_BYTE, 3)).isZero();
            assertThat(cmd.get(JAVA_INT, 4)).isEqualTo(0x11111111);
            assertThat(cmd.get(JAVA_INT, 8)).isEqualTo(0x22222222);
            assertThat(cmd.get(JAVA_INT, 12)).isEqualTo(0x33333333);
            assertThat(cmd.get(JAVA_LONG, 16)).as("metadata pointer: never from the SQE").isZero();
            assertThat(cmd.get(JAVA_LONG, 24)).isEqualTo(0x7fff_0000_1000L);
            assertThat(cmd.get(JAVA_INT, 32)).isZero();
            assertThat(cmd.get(JAVA_INT, 36)).isEqualTo(8192);
            assertThat(cmd.get(JAVA_INT, 40)).isEqualTo(0xa0a0a0a0);
            assertThat(cmd.get(JAVA_INT, 44)).isEqualTo(0xb1b1b1b1);
            assertThat(cmd.get(JAVA_INT, 48)).isEqualTo(0xc2c2c2c2);
            assertThat(cmd.get(JAVA_INT, 52)).isEqualTo(0xd3d3d3d3);
            assertThat(cmd.get(JAVA_INT, 56)).isEqualTo(0xe4e4e4e4);
            assertThat(cmd.get(JAVA_INT, 60)).isEqualTo(0xf5f5f5f5);
            assertThat(cmd.get(JAVA_INT, 64)).isEqualTo(30_000);
            assertThat(cmd.get(JAVA_INT, 68)).isZero();
            assertThat(cmd.get(JAVA_LONG, 72)).isZero();
        }
    }

    @Test
    void resultIsDw0Dw1ForTheWideStructAndDw0ForTheNarrowOne() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cmd = a.allocate(NvmeIoctl.PASSTHRU_CMD64);
            cmd.set(JAVA_INT, 68, 0x89abcdef);
            cmd.set(JAVA_LONG, 72, 0x0000_0007_0001_0003L);
            assertThat(NvmeIoctl.result(cmd, true)).isEqualTo(0x0000_0007_0001_0003L);
            assertThat(NvmeIoctl.result(cmd, false)).isEqualTo(0x89abcdefL);
        }
    }

    @Test
    void encodeRefusesAStructTooSmallForTheIoctl() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment small = a.allocate(72);
            NvmeIoctl.encode(small, false, Sqe.of(AdminOpcode.IDENTIFY), 0, 0, 1);   // 72 bytes is enough for the 32-bit struct
            assertThatThrownBy(() -> NvmeIoctl.encode(small, true, Sqe.of(AdminOpcode.IDENTIFY), 0, 0, 1)).hasMessageContaining("80 bytes");
        }
    }

    @Test
    void pollfdIs8Bytes() {
        assertThat(Libc.POLLFD.byteSize()).isEqualTo(8);
        assertThat(Libc.POLLFD.byteOffset(MemoryLayout.PathElement.groupElement("revents"))).isEqualTo(6);
    }
}
