package dev.nvmelm.cli;

/** nvme-cli's output formats (-o/--output-format). */
public enum OutputFormat {
    NORMAL, JSON, BINARY;

    static OutputFormat parse(String s) {
        return switch (s) {
            case "normal" -> NORMAL;
            case "json" -> JSON;
            case "binary" -> BINARY;
            default -> throw new CliException("Invalid output format: '" + s + "' (expected normal|json|binary)");
        };
    }
}
