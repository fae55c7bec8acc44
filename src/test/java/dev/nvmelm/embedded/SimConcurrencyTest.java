package dev.nvmelm.embedded;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.host.sim.SimNvmeDevice;
import dev.nvmelm.block.NvmeBlockDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** Two clients of one server copying between namespaces from 8 threads: buffers are never shared or lost (found an allocator bug). */
class SimConcurrencyTest {
    @TempDir Path dir;

    @Test
    void eightThreadsOnTwoConnectionsCopyByteForByte() throws Exception {
        try (DeviceServer server = DeviceServer.start(new Subsystem.Config(dir, 32 << 20, 1, 2, 4096), 64 << 20, null);
             SimNvmeDevice a = SimNvmeDevice.open(server.deviceString(), Duration.ofSeconds(10));
             SimNvmeDevice b = SimNvmeDevice.open(server.deviceString(), Duration.ofSeconds(10))) {
            NvmeBlockDevice src = new NvmeBlockDevice(a, 1), dst = new NvmeBlockDevice(b, 2);
            try (SimNvmeDevice mc = SimNvmeDevice.open(server.deviceString() + "#1", Duration.ofSeconds(10))) {
                MemorySegment data = mc.allocateBuffer(1 << 20);
                for (long off = 0; off < 32 << 20; off += 1 << 20) {
                    data.fill((byte) (off >> 20));
                    new NvmeBlockDevice(mc, 1).write(off, data);
                }
            }
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int tt = t;
                fs.add(CompletableFuture.runAsync(() -> {
                    try {
                        MemorySegment buf = src.allocateBuffer(1 << 20);
                        for (int i = 0; i < 40; i++) {
                            long off = ((tt * 40L + i) % 32) << 20;
                            src.read(off, buf);
                            dst.write(off, buf);
                            src.allocated(off, 1 << 20);
                            dst.allocated(off, 1 << 20);
                        }
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            for (var f : fs) f.get();
            MemorySegment x = src.allocateBuffer(1 << 20), y = dst.allocateBuffer(1 << 20);
            for (long off = 0; off < 32 << 20; off += 1 << 20) {
                src.read(off, x);
                dst.read(off, y);
                org.assertj.core.api.Assertions.assertThat(x.mismatch(y)).as("MiB at %d", off).isEqualTo(-1);
            }
        }
    }
}
