package dev.nvmelm.spec;

/**
 * How a length field counts: 0's based (the field holds the count minus one, as NVMe's NLB and
 * NUMD fields mostly do) or a plain count. Where implementations read one field both ways, the
 * choice is a {@link Disagreements} knob of this type.
 */
public enum CountField {
    /** field = count - 1 */
    ZERO_BASED,
    /** field = count */
    COUNT;

    /** The number of units a field of this kind with value {@code field} (unsigned) means. */
    public long count(long field) {
        return this == ZERO_BASED ? field + 1 : field;
    }

    /** The field value for {@code count} units. */
    public long field(long count) {
        if (this == ZERO_BASED && count < 1) throw new IllegalArgumentException("a 0's based field cannot say " + count);
        return this == ZERO_BASED ? count - 1 : count;
    }
}
