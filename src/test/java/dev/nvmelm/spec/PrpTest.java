package dev.nvmelm.spec;

import dev.nvmelm.spec.bus.DmaFault;
import dev.nvmelm.spec.bus.DmaMemory;
import net.jqwik.api.ForAll;
import org.junit.jupiter.api.Test;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** PRP lists built by the host and walked by the controller describe the same bytes (NVMe Base 2.1, section 4.3.1; docs/spec.md, "Controller Data Queue command"). */
class PrpTest {
    /** A flat IOVA space [0x10000, 0x10000 + 64 MiB) for the test. */
    static final class Flat implements DmaMemory {
        static final MemorySegment SHARED = Arena.global().allocate(64 << 20, 4096);   // one allocation for all tries
        final MemorySegment mem = SHARED;
        long nextPage = 0x10000 + (48L << 20);

        @Override
        public MemorySegment resolve(long iova, long length) {
            if (iova < 0x10000 || iova + length > 0x10000 + mem.byteSize()) throw new DmaFault("outside: " + iova);
            return mem.asSlice(iova - 0x10000, length);
        }

        long newPage() {
            long p = nextPage;
            nextPage += 4096;
            return p;
        }
    }

    @Property(tries = 200)
    void buildThenWalkCoversTheBufferExactly(@ForAll @IntRange(max = 4095) int offsetDwords, @ForAll @IntRange(min = 1, max = 12 << 20) int length) {
        Flat f = new Flat();
        long first = 0x10000 + 4096 + (offsetDwords & ~3);
        Prp.Pointers p = Prp.build(first, length, 4096, f, f::newPage);
        List<Prp.Segment> segs = Prp.walk(p.prp1(), p.prp2(), length, 4096, f);
        long expect = first, total = 0;
        for (Prp.Segment s : segs) {
            assertThat(s.iova()).isEqualTo(expect);
            expect = (s.iova() + s.length() + 4095) & ~4095L;
            total += s.length();
        }
        assertThat(total).isEqualTo(length);
    }

    @Test
    void aPrpOutsideMemoryOrWithAnOffsetIsRefused() {
        Flat f = new Flat();
        assertThatThrownBy(() -> Prp.walk(0x10000, 0x7000_0000_0000L, 3 * 4096 + 1, 4096, f)).isInstanceOf(DmaFault.class);
        assertThatThrownBy(() -> Prp.walk(0x10000, 0x20010, 8192, 4096, f)).hasMessageContaining("page offset");
        assertThatThrownBy(() -> Prp.walk(0x10002, 0, 16, 4096, f)).hasMessageContaining("dword");
    }

    @Test
    void chainedListPagesForALargeTransfer() {
        Flat f = new Flat();
        long len = 4096L * 1200;   // > 511 entries: two chained list pages
        Prp.Pointers p = Prp.build(0x10000, len, 4096, f, f::newPage);
        assertThat(Prp.walk(p.prp1(), p.prp2(), len, 4096, f)).hasSize(1200);
        long[] pages = {0x20000, 0x40000, 0x60000};
        long list = Prp.buildList(pages, 4096, f, f::newPage);
        assertThat(Prp.listEntries(list, 3, 4096, f)).containsExactly(pages);
    }
}
