package dev.nvmelm.spec;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A status is the pair (SCT, SC) (NVMe Base 2.1, section 4.2.3): the same SC in two types is two
 * different statuses, and the CQE Status Field encodes the type it came with.
 */
class StatusCodeTypesTest {
    @Test
    void theSameScInTwoTypesIsTwoStatuses() {
        StatusCode generic37 = StatusCode.generic(0x37);
        assertThat(generic37).isNotEqualTo(StatusCodes.INVALID_CDQ);
        assertThat(Status.dnr(StatusCodes.INVALID_CDQ).is(StatusCodes.INVALID_CDQ)).isTrue();
        assertThat(Status.dnr(generic37).is(StatusCodes.INVALID_CDQ)).isFalse();
        assertThat(Status.dnr(StatusCodes.INVALID_FIELD).is(StatusCodes.INVALID_QSIZE)).as("SC 02h generic vs command specific").isFalse();
        assertThat(StatusCodes.INVALID_FIELD.name()).isEqualTo("Invalid Field in Command");
        assertThat(StatusCodes.INVALID_QSIZE.name()).isEqualTo("Invalid Queue Size");
        assertThat(generic37.name()).isEqualTo("Unknown");
    }

    @Test
    void theStatusFieldCarriesTheType() {
        assertThat(Status.dnr(StatusCodes.INVALID_CDQ).field()).isEqualTo(0x4137);
        assertThat(Status.dnr(StatusCode.generic(0x37)).field()).isEqualTo(0x4037);
        assertThat(Status.fromField(0x4137).is(StatusCodes.INVALID_CDQ)).isTrue();
        assertThat(Status.fromField(0x0137).is(StatusCodes.INVALID_CDQ)).as("DNR does not change the code").isTrue();
        assertThat(Status.fromField(0x4037).is(StatusCodes.INVALID_CDQ)).isFalse();
    }

    @Test
    void everyNamedConstantHasItsDeclaredType() {
        assertThat(StatusCodes.INVALID_OPCODE.type()).isEqualTo(StatusCodeType.GENERIC);
        assertThat(StatusCodes.LBA_RANGE.type()).isEqualTo(StatusCodeType.GENERIC);
        for (StatusCode c : new StatusCode[]{StatusCodes.INVALID_CDQ, StatusCodes.NOT_ENOUGH_RESOURCES, StatusCodes.CTRL_SUSPENDED,
                StatusCodes.CTRL_NOT_SUSPENDED, StatusCodes.CDQ_FULL, StatusCodes.CMD_SIZE_LIMIT_EXCEEDED}) {
            assertThat(c.type()).as(c.toString()).isEqualTo(StatusCodeType.COMMAND_SPECIFIC);
        }
        assertThat(StatusCodeType.of(1)).contains(StatusCodeType.COMMAND_SPECIFIC);
        assertThat(StatusCodeType.of(5)).as("reserved").isEmpty();
        assertThatThrownBy(() -> StatusCode.generic(0x100)).hasMessageContaining("SC");
    }
}
