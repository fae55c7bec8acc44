package dev.nvmelm.host.cdq;

/** A run of {@code count} LBAs starting at {@code slba} (a count, not 0's based). */
public record LbaRange(long slba, long count) implements Comparable<LbaRange> {
    public LbaRange {
        if (slba < 0 || count <= 0 || slba + count < slba) {
            throw new IllegalArgumentException("bad LBA range: SLBA " + slba + " count " + count);
        }
    }

    /** One past the last LBA. */
    public long end() {
        return slba + count;
    }

    @Override
    public int compareTo(LbaRange o) {
        int c = Long.compare(slba, o.slba);
        return c != 0 ? c : Long.compare(count, o.count);
    }
}
