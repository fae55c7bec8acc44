package dev.nvmelm.host.pci;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The shared-backing allocator: live allocations never overlap, and everything freed is reusable. */
class HostMemoryTest {

    @Property(tries = 200)
    void allocationsNeverOverlapAndFreedSpaceComesBack(@ForAll @Size(min = 1, max = 300) List<@IntRange(min = 1, max = 5 * 4096) Integer> sizes,
                                                        @ForAll long seed) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment backing = arena.allocate(4L << 20, 4096);
            HostMemory mem = new HostMemory(backing);
            Random rnd = new Random(seed);
            List<MemorySegment> live = new ArrayList<>();
            for (int size : sizes) {
                if (!live.isEmpty() && rnd.nextInt(3) == 0) mem.free(live.remove(rnd.nextInt(live.size())));
                MemorySegment m;
                try {
                    m = mem.allocate(size);
                } catch (OutOfMemoryError full) {
                    continue;
                }
                for (MemorySegment other : live) {
                    boolean disjoint = m.address() + m.byteSize() <= other.address() || other.address() + other.byteSize() <= m.address();
                    assertThat(disjoint).as("new [%d,+%d) overlaps live [%d,+%d)", m.address(), m.byteSize(), other.address(), other.byteSize()).isTrue();
                }
                assertThat(mem.offsetOf(m)).isEqualTo(m.address() - backing.address());
                live.add(m);
            }
            for (MemorySegment m : live) mem.free(m);
            // all free again, coalesced: the whole backing minus one guard page fits in one allocation
            MemorySegment all = mem.allocate(backing.byteSize() - 4096);
            assertThat(all.address()).isEqualTo(backing.address());
        }
    }
}
