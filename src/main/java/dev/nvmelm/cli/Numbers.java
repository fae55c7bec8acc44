package dev.nvmelm.cli;

import picocli.CommandLine;

/**
 * Parses numeric options the way nvme-cli's strtoul(..., 0) does for decimal and 0x hex,
 * but rejects garbage, negative values and overflow instead of wrapping.
 */
public final class Numbers implements CommandLine.ITypeConverter<Long> {

    @Override
    public Long convert(String value) {
        try {
            return parse(value);
        } catch (CliException e) {
            throw new CommandLine.TypeConversionException(e.getMessage());
        }
    }

    public static long parse(String value) {
        String s = value.trim().replace("_", "");
        try {
            long v;
            if (s.startsWith("0x") || s.startsWith("0X")) v = Long.parseUnsignedLong(s.substring(2), 16);
            else v = Long.parseLong(s);
            if (v < 0 && !(s.startsWith("0x") || s.startsWith("0X"))) {
                throw new CliException("'" + value + "' is negative; expected an unsigned number");
            }
            return v;
        } catch (NumberFormatException e) {
            throw new CliException("'" + value + "' is not a number (decimal or 0x hex)");
        }
    }

    /** Parses sizes like 64M, 1G, 4096, 512K (binary units). */
    public static long parseSize(String value) {
        String s = value.trim();
        if (s.isEmpty()) throw new CliException("empty size");
        char last = Character.toUpperCase(s.charAt(s.length() - 1));
        long mult = switch (last) {
            case 'K' -> 1L << 10;
            case 'M' -> 1L << 20;
            case 'G' -> 1L << 30;
            case 'T' -> 1L << 40;
            default -> 1;
        };
        String digits = mult == 1 ? s : s.substring(0, s.length() - 1);
        if (digits.endsWith("i") || digits.endsWith("I")) digits = digits.substring(0, digits.length() - 1);
        long n = parse(digits);
        // parse gives hex beyond 2^63 as a negative long (a u64 field); no size is that large
        if (n < 0 || n > Long.MAX_VALUE / mult) throw new CliException("size '" + value + "' is too large");
        return n * mult;
    }

    public static final class Size implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            try {
                return parseSize(value);
            } catch (CliException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
