package dev.nvmelm.migrate.workload;

import java.util.Locale;

/**
 * {@code random-write:iops=2000,bs=4k[,seconds=N][,zeroes=P][,trim=P][,qd=N][,seed=N]}, also
 * {@code seq-write:...} and {@code mixed:...} (half reads, checked against what was written).
 * iops=0 means as fast as possible; seconds=0 means until stopped.
 */
public record WorkloadSpec(Kind kind, int iops, int blockBytes, double seconds, double zeroes, double trim, int queueDepth, long seed) {
    public enum Kind { RANDOM_WRITE, SEQ_WRITE, MIXED }

    public WorkloadSpec {
        if (iops < 0) throw new IllegalArgumentException("workload iops must be >= 0");
        if (blockBytes < 512 || Integer.bitCount(blockBytes) != 1 || blockBytes > 1 << 20) throw new IllegalArgumentException("workload bs must be a power of two, 512 .. 1M");
        if (zeroes < 0 || trim < 0 || zeroes + trim > 1) throw new IllegalArgumentException("workload zeroes + trim must be a fraction between 0 and 1");
        if (queueDepth < 1 || queueDepth > 256) throw new IllegalArgumentException("workload qd must be 1..256");
        if (seconds < 0) throw new IllegalArgumentException("workload seconds must be >= 0");
    }

    public static WorkloadSpec parse(String text) {
        String[] kv = text.split(":", 2);
        Kind kind = switch (kv[0]) {
            case "random-write" -> Kind.RANDOM_WRITE;
            case "seq-write" -> Kind.SEQ_WRITE;
            case "mixed" -> Kind.MIXED;
            default -> throw new IllegalArgumentException("unknown workload '" + kv[0] + "' (random-write, seq-write, mixed)");
        };
        int iops = 2000, bs = 4096, qd = 8;
        double seconds = 0, zeroes = 0, trim = 0;
        long seed = 1;
        if (kv.length > 1 && !kv[1].isBlank()) {
            for (String p : kv[1].split(",")) {
                String[] e = p.split("=", 2);
                if (e.length != 2) throw new IllegalArgumentException("workload option '" + p + "' is not key=value");
                String v = e[1].trim().toLowerCase(Locale.ROOT);
                try {
                    switch (e[0].trim()) {
                        case "iops" -> iops = Integer.parseInt(v);
                        case "bs" -> bs = (int) size(v);
                        case "seconds" -> seconds = Double.parseDouble(v);
                        case "zeroes" -> zeroes = Double.parseDouble(v);
                        case "trim" -> trim = Double.parseDouble(v);
                        case "qd" -> qd = Integer.parseInt(v);
                        case "seed" -> seed = Long.parseLong(v);
                        default -> throw new IllegalArgumentException("unknown workload option '" + e[0] + "'");
                    }
                } catch (NumberFormatException ex) {
                    throw new IllegalArgumentException("workload option " + e[0] + "=" + e[1] + " is not a number");
                }
            }
        }
        return new WorkloadSpec(kind, iops, bs, seconds, zeroes, trim, qd, seed);
    }

    private static long size(String v) {
        long mult = v.endsWith("k") ? 1024 : v.endsWith("m") ? 1 << 20 : 1;
        return Long.parseLong(mult == 1 ? v : v.substring(0, v.length() - 1)) * mult;
    }
}
