package dev.nvmelm.jmh;

import dev.nvmelm.spec.Status;
import org.openjdk.jmh.annotations.Benchmark;

/** Smoke benchmark that keeps the JMH wiring honest; the real ones sit beside it. */
public class StatusBench {
    @Benchmark
    public int statusRoundTrip() {
        return Status.fromField(0x4137).field();
    }
}
