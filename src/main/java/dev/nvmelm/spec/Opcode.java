package dev.nvmelm.spec;

import java.util.Optional;

/**
 * An SQE opcode of one command set (admin or NVM I/O: the queue an SQE is on decides which), with
 * what every opcode shares: its byte, its name in the specification, its data direction (opcode
 * bits 1:0, {@link DataDirection}) and a lookup from the raw byte.
 */
public interface Opcode {
    /** The opcode byte, SQE CDW0 bits 7:0. */
    int value();

    /** The command's name as the specification writes it. */
    String specName();

    default DataDirection direction() { return DataDirection.ofOpcodeByte(value()); }

    /** True if this SQE carries this opcode (the SQE's queue decides its command set). */
    default boolean isOpcodeOf(Sqe s) { return s.opcode() == value(); }

    /** A table from opcode byte to constant, for {@link #lookup}. */
    static <E extends Enum<E> & Opcode> Object[] table(E[] values) {
        Object[] byValue = new Object[256];
        for (E o : values) byValue[o.value()] = o;
        return byValue;
    }

    /** The constant a raw byte names in {@code table}; empty for one nvme-lm does not know. */
    @SuppressWarnings("unchecked")
    static <E extends Enum<E> & Opcode> Optional<E> lookup(Object[] table, int value) {
        return value >= 0 && value < table.length ? Optional.ofNullable((E) table[value]) : Optional.empty();
    }
}
