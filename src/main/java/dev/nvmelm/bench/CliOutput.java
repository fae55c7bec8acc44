package dev.nvmelm.bench;

import dev.nvmelm.util.Json;

import java.util.Map;

/** Reading what an {@code nvme-lm ... -o json} process printed, for the scenarios that run it as a user does. */
final class CliOutput {
    private CliOutput() {}

    /** The JSON report in a process's output, or null if there is none. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> report(String output) {
        // stdout and stderr together: the launcher may print a line first (building, the start-up cache)
        int at = output.indexOf('{'), end = output.lastIndexOf('}');
        if (at < 0 || end < at) return null;
        try {
            return Json.parse(output.substring(at, end + 1)) instanceof Map<?, ?> m ? (Map<String, Object>) m : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** The last line of a process's output (its one-line error, when it failed). */
    static String lastLine(String s) {
        return s.strip().lines().reduce((a, b) -> b).orElse("");
    }
}
