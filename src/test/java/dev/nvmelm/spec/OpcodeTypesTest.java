package dev.nvmelm.spec;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Admin and I/O opcodes are two types over one byte (NVMe Base 2.1, section 5; NVM Command Set 1.1,
 * section 3): every named value round-trips through the wire lookup, a byte without a name comes back
 * empty (the controller answers it with Invalid Command Opcode, generic status 01h), and the same byte
 * names different commands in the two types.
 */
class OpcodeTypesTest {
    @Test
    void everyNamedOpcodeRoundTripsThroughItsByte() {
        for (AdminOpcode o : AdminOpcode.values()) {
            assertThat(AdminOpcode.of(o.value())).contains(o);
            assertThat(Sqe.of(o).opcode()).isEqualTo(o.value());
            assertThat(o.isOpcodeOf(Sqe.of(o))).isTrue();
        }
        for (IoOpcode o : IoOpcode.values()) {
            assertThat(IoOpcode.of(o.value())).contains(o);
            assertThat(Sqe.of(o).opcode()).isEqualTo(o.value());
        }
    }

    @Test
    void bytesWithoutANameAreEmptyNotAnException() {
        for (int b : new int[]{0x03, 0x7f, 0xc1, 0xff, -1, 256}) {
            assertThat(AdminOpcode.of(b)).as("admin %x", b).isEmpty();
            assertThat(IoOpcode.of(b)).as("I/O %x", b).isEmpty();
        }
        assertThat(IntStream.range(0, 256).filter(b -> AdminOpcode.of(b).isPresent()).count()).isEqualTo(AdminOpcode.values().length);
        assertThat(IntStream.range(0, 256).filter(b -> IoOpcode.of(b).isPresent()).count()).isEqualTo(IoOpcode.values().length);
    }

    @Test
    void theSameByteNamesDifferentCommandsOnTheTwoQueues() {
        assertThat(AdminOpcode.of(0x00)).contains(AdminOpcode.DELETE_IO_SQ);
        assertThat(IoOpcode.of(0x00)).contains(IoOpcode.FLUSH);
        assertThat(AdminOpcode.of(0x01)).contains(AdminOpcode.CREATE_IO_SQ);
        assertThat(IoOpcode.of(0x01)).contains(IoOpcode.WRITE);
        assertThat(AdminOpcode.of(0x09)).contains(AdminOpcode.SET_FEATURES);
        assertThat(IoOpcode.of(0x09)).contains(IoOpcode.DATASET_MANAGEMENT);
    }

    @Test
    void directionIsOpcodeBits1To0() {
        assertThat(IoOpcode.WRITE.direction()).isEqualTo(DataDirection.HOST_TO_CONTROLLER);
        assertThat(IoOpcode.READ.direction()).isEqualTo(DataDirection.CONTROLLER_TO_HOST);
        assertThat(IoOpcode.FLUSH.direction()).isEqualTo(DataDirection.NONE);
        assertThat(AdminOpcode.MIGRATION_SEND.direction()).isEqualTo(DataDirection.HOST_TO_CONTROLLER);
        assertThat(AdminOpcode.MIGRATION_RECEIVE.direction()).isEqualTo(DataDirection.CONTROLLER_TO_HOST);
        assertThat(AdminOpcode.CONTROLLER_DATA_QUEUE.direction()).isEqualTo(DataDirection.HOST_TO_CONTROLLER);
        assertThat(Arrays.stream(AdminOpcode.values()).map(AdminOpcode::specName).distinct().count())
                .isEqualTo(AdminOpcode.values().length);
    }
}
