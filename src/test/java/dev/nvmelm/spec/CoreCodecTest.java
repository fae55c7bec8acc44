package dev.nvmelm.spec;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CoreCodecTest {

    @Test
    void sqeFieldsSitAtTheirSpecOffsets() {
        Sqe s = Sqe.of(AdminOpcode.CONTROLLER_DATA_QUEUE).withCid(0x1234).withNsid(7).withPrp(0x1122334455667788L, 0).withCdw10(0)
                .withCdw11(0x00020001).withCdw12(0x400).withCdw15(0xdeadbeef);
        byte[] b = s.toBytes();
        assertThat(b[0]).isEqualTo((byte) 0x45);
        assertThat(b[2]).isEqualTo((byte) 0x34);
        assertThat(b[3]).isEqualTo((byte) 0x12);
        assertThat(b[4]).isEqualTo((byte) 7);
        assertThat(b[24]).isEqualTo((byte) 0x88);
        assertThat(b[31]).isEqualTo((byte) 0x11);
        assertThat(b[44]).isEqualTo((byte) 0x01);
        assertThat(b[46]).isEqualTo((byte) 0x02);
        assertThat(b[48]).isEqualTo((byte) 0x00);
        assertThat(b[49]).isEqualTo((byte) 0x04);
        assertThat(b[60]).isEqualTo((byte) 0xef);
        assertThat(Sqe.fromBytes(b)).isEqualTo(s);
        assertThat(s.cdw(0)).isEqualTo(0x12340045);
    }

    @Test
    void cqeStatusAndPhaseBits() {
        Cqe c = new Cqe(5, 3, 9, 1, 0x77, true, Status.dnr(StatusCodes.INVALID_CDQ));
        MemorySegment m = MemorySegment.ofArray(new byte[16]);
        c.encode(m, 0);
        int dw3 = m.get(Sqe.LE_INT, 12);
        assertThat(dw3 >>> 17).isEqualTo(0x4137);
        assertThat((dw3 >>> 16) & 1).isEqualTo(1);
        assertThat(Cqe.decode(m, 0)).isEqualTo(c);
        assertThat(Cqe.phaseAt(m, 0)).isTrue();
    }

    @Test
    void statusPrintsLikeNvmeCli() {
        // libnvme's nvme_status_to_string(): a name alone for 37h, 38h and 3Bh
        assertThat(Status.dnr(StatusCodes.INVALID_CDQ).toNvmeCliString()).isEqualTo("NVMe status: Invalid Controller Data Queue(0x4137)");
        assertThat(Status.dnr(StatusCodes.CTRL_SUSPENDED).toNvmeCliString()).isEqualTo(
                "NVMe status: Controller Suspended: Operation failed because the controller is currently in a suspended state(0x4139)");
        assertThat(Status.dnr(StatusCodes.PRP_OFFSET_INVALID).toNvmeCliString()).isEqualTo("NVMe status: PRP Offset Invalid: The Offset field for a PRP entry is invalid(0x4013)");
        assertThat(Status.dnr(StatusCodes.CMD_SEQ_ERROR).description()).isEqualTo("The command was aborted due to a protocol violation in a multi- command sequence");
        assertThat(Status.dnr(StatusCodes.INVALID_FIELD).toNvmeCliString()).isEqualTo(
                "NVMe status: Invalid Field in Command: A reserved coded value or an unsupported value in a defined field(0x4002)");
        for (int sc = 0x37; sc <= 0x3b; sc++) {
            assertThat(Status.dnr(StatusCode.commandSpecific(sc)).name()).isNotEqualTo("Unknown");
        }
        assertThat(new Status(1, 0x3b, 0, false, false).field()).isEqualTo(0x13b);
    }

    @Property
    void statusFieldRoundTrips(@ForAll @IntRange(min = 0, max = 0x7fff) int field) {
        assertThat(Status.fromField(field).field()).isEqualTo(field);
    }

    @Property
    void sqeRoundTrips(@ForAll @IntRange(max = 255) int op, @ForAll int nsid, @ForAll int c10, @ForAll int c11,
                       @ForAll long prp1, @ForAll @IntRange(max = 0xffff) int cid) {
        Sqe s = Sqe.raw(op).withNsid(nsid).withCdw10(c10).withCdw11(c11).withPrp(prp1, ~prp1).withCid(cid);
        assertThat(Sqe.fromBytes(s.toBytes())).isEqualTo(s);
    }

    @Test
    void outOfRangeFieldsAreRejectedNotTruncated() {
        assertThatThrownBy(() -> Sqe.raw(256)).hasMessageContaining("opcode");
        assertThatThrownBy(() -> Fields.u("CNTLID", 70000, 16)).hasMessageContaining("CNTLID = 70000");
        assertThatThrownBy(() -> Fields.u("x", -1, 16)).isInstanceOf(IllegalArgumentException.class);
    }
}
