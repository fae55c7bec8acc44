package dev.nvmelm.host.cdq;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LongRadixSortTest {

    record Input(long[] values, int len) {}

    @Provide
    Arbitrary<Input> inputs() {
        // Offsets near 0 and near Long.MAX_VALUE, spans from 1 bit to 63, lengths across SMALL.
        return Combinators.combine(
                Arbitraries.integers().between(0, 6000),
                Arbitraries.integers().between(0, 63),
                Arbitraries.longs().between(0, Long.MAX_VALUE),
                Arbitraries.longs()).as((len, spanBits, base, seed) -> {
            var rnd = new SplittableRandom(seed);
            long span = spanBits == 63 ? Long.MAX_VALUE : 1L << spanBits;
            long lo = Math.min(base, Long.MAX_VALUE - span);
            long[] v = new long[len + rnd.nextInt(3)];   // trailing slots must stay untouched
            for (int i = 0; i < v.length; i++) v[i] = lo + rnd.nextLong(span);
            return new Input(v, len);
        });
    }

    @Property(tries = 300)
    void sortsLikeArraysSortAndTouchesNothingPastLen(@ForAll("inputs") Input in) {
        long[] a = in.values().clone();
        long[] expected = in.values().clone();
        Arrays.sort(expected, 0, in.len());
        LongRadixSort.sort(a, in.len(), new long[in.len()], new int[LongRadixSort.COUNTS]);
        assertThat(a).isEqualTo(expected);
    }

    @Property(tries = 50)
    void duplicatesAndEqualKeys(@ForAll("inputs") Input in) {
        long[] a = new long[in.len() * 2];
        for (int i = 0; i < in.len(); i++) a[2 * i] = a[2 * i + 1] = in.values()[i];
        long[] expected = a.clone();
        Arrays.sort(expected);
        LongRadixSort.sort(a, a.length, new long[a.length], new int[LongRadixSort.COUNTS]);
        assertThat(a).isEqualTo(expected);
    }

    @Example
    void rejectsNegativeKeys() {
        long[] a = new long[1000];
        a[500] = -1;
        assertThatThrownBy(() -> LongRadixSort.sort(a, a.length, new long[a.length], new int[LongRadixSort.COUNTS]))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
