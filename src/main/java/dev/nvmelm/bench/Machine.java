package dev.nvmelm.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The machine a result was measured on, recorded with every result file. */
public record Machine(int cores, long memoryBytes, String kernel, String cpu, String java, Map<String, String> tools) {

    public static Machine probe(List<Tools.Peer> peers) {
        Map<String, String> versions = new LinkedHashMap<>();
        for (Tools.Peer p : peers) versions.put(p.command(), Tools.version(p));
        return new Machine(Runtime.getRuntime().availableProcessors(), memTotal(), read("/proc/sys/kernel/osrelease"),
                cpuModel(), Runtime.version().toString(), versions);
    }

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cores", cores);
        m.put("memory_bytes", memoryBytes);
        m.put("kernel", kernel);
        m.put("cpu", cpu);
        m.put("java", java);
        m.put("tools", new LinkedHashMap<String, Object>(tools));
        return m;
    }

    private static String read(String path) {
        try {
            return Files.readString(Path.of(path)).strip();
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static long memTotal() {
        for (String line : read("/proc/meminfo").lines().toList()) {
            if (line.startsWith("MemTotal:")) return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
        }
        return -1;
    }

    private static String cpuModel() {
        for (String line : read("/proc/cpuinfo").lines().toList()) {
            if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).strip();
        }
        return "unknown";
    }
}
