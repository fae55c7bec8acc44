package dev.nvmelm.cli;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;

import static dev.nvmelm.fuzz.Fuzz.check;

/**
 * The CLI's numbers (docs/cli.md): every string is a CliException or the value a reference
 * parser computes independently with BigInteger: decimal or 0x hex with '_' separators and an optional '+', unsigned,
 * hex up to 64 bits (returned as the two's-complement long, a u64 field), decimal up to 2^63-1;
 * sizes take K, M, G, T (binary) with an optional 'i', and must fit a signed 64-bit count of bytes.
 */
public class NumbersFuzzTest {

    @FuzzTest(maxDuration = "2s")
    void parse(byte[] input) {
        parseOnce(input);
    }

    public static void parseOnce(byte[] input) {
        String s = new String(input, StandardCharsets.UTF_8);
        BigInteger expect = reference(s);
        Long got;
        try {
            got = Numbers.parse(s);
        } catch (CliException e) {
            got = null;
        }
        check(expect == null ? got == null : got != null && got == expect.longValue(),
                "parse('" + s + "') = " + got + ", expected " + (expect == null ? "an error" : expect));
        BigInteger size = referenceSize(s);
        Long gotSize;
        try {
            gotSize = Numbers.parseSize(s);
        } catch (CliException e) {
            gotSize = null;
        }
        check(size == null ? gotSize == null : gotSize != null && gotSize == size.longValueExact(),
                "parseSize('" + s + "') = " + gotSize + ", expected " + (size == null ? "an error" : size));
    }

    private static final BigInteger U64 = BigInteger.ONE.shiftLeft(64), S63 = BigInteger.ONE.shiftLeft(63);

    /** The value Numbers.parse promises, or null for an error. */
    static BigInteger reference(String value) {
        String s = value.trim().replace("_", "");
        boolean hex = s.startsWith("0x") || s.startsWith("0X");
        String digits = hex ? s.substring(2) : s;
        boolean minus = !hex && digits.startsWith("-");
        if (digits.startsWith("+") || minus) digits = digits.substring(1);
        if (digits.isEmpty()) return null;
        for (char c : digits.toCharArray()) if (Character.digit(c, hex ? 16 : 10) < 0) return null;
        BigInteger v = new BigInteger(digits, hex ? 16 : 10);
        if (minus && v.signum() != 0) return null;   // "-0" is zero; any other negative is refused
        return v.compareTo(hex ? U64 : S63) < 0 ? v : null;
    }

    /** The byte count Numbers.parseSize promises, or null for an error. */
    static BigInteger referenceSize(String value) {
        String s = value.trim();
        if (s.isEmpty()) return null;
        int shift = switch (Character.toUpperCase(s.charAt(s.length() - 1))) {
            case 'K' -> 10;
            case 'M' -> 20;
            case 'G' -> 30;
            case 'T' -> 40;
            default -> 0;
        };
        String digits = shift == 0 ? s : s.substring(0, s.length() - 1);
        if (digits.endsWith("i") || digits.endsWith("I")) digits = digits.substring(0, digits.length() - 1);
        BigInteger n = reference(digits);
        if (n == null) return null;
        BigInteger bytes = n.shiftLeft(shift);
        return bytes.compareTo(S63) < 0 ? bytes : null;
    }
}
