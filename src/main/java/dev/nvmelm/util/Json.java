package dev.nvmelm.util;

import java.util.List;
import java.util.Map;

/**
 * Minimal JSON for reports and CLI output: a pretty writer (nvme-cli prints json-c "pretty",
 * 2-space indent) and a strict parser. Maps keep insertion order when given a LinkedHashMap (any
 * SequencedMap); maps without an order are written with their keys sorted, never in hash order;
 * numbers are written as is, so callers pass unsigned values as long. The parser returns
 * LinkedHashMap, ArrayList, String, Long or Double, Boolean and null.
 */
public final class Json {
    private Json() {}

    public static String pretty(Object value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, 0);
        return sb.toString();
    }

    /** One line, for streams of records (JSON Lines). */
    public static String compact(Object value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, -1);
        return sb.toString();
    }

    /** {@code indent} < 0 writes compactly. */
    private static void write(StringBuilder sb, Object v, int indent) {
        boolean flat = indent < 0;
        switch (v) {
            case null -> sb.append("null");
            case String s -> quote(sb, s);
            case Boolean b -> sb.append(b);
            case Double d -> sb.append(d.isNaN() || d.isInfinite() ? "null" : String.valueOf(d));
            case Float f -> write(sb, f.doubleValue(), indent);
            case Number n -> sb.append(n);
            case Map<?, ?> m -> {
                if (m.isEmpty()) { sb.append("{}"); return; }
                sb.append(flat ? "{" : "{\n");
                int i = 0;
                // a map without an order of its own (Map.of, HashMap) is written sorted: the same output every run
                Iterable<? extends Map.Entry<?, ?>> entries = m instanceof java.util.SequencedMap<?, ?> ? m.entrySet()
                        : m.entrySet().stream().sorted(java.util.Comparator.comparing(e -> String.valueOf(e.getKey()))).toList();
                for (Map.Entry<?, ?> e : entries) {
                    pad(sb, flat ? 0 : indent + 2);
                    quote(sb, String.valueOf(e.getKey()));
                    sb.append(flat ? ":" : ": ");
                    write(sb, e.getValue(), flat ? -1 : indent + 2);
                    sb.append(++i < m.size() ? (flat ? "," : ",\n") : (flat ? "" : "\n"));
                }
                pad(sb, indent);
                sb.append('}');
            }
            case List<?> l -> {
                if (l.isEmpty()) { sb.append("[]"); return; }
                sb.append(flat ? "[" : "[\n");
                for (int i = 0; i < l.size(); i++) {
                    pad(sb, flat ? 0 : indent + 2);
                    write(sb, l.get(i), flat ? -1 : indent + 2);
                    sb.append(i + 1 < l.size() ? (flat ? "," : ",\n") : (flat ? "" : "\n"));
                }
                pad(sb, indent);
                sb.append(']');
            }
            default -> quote(sb, v.toString());
        }
    }

    private static void pad(StringBuilder sb, int n) {
        if (n > 0) sb.repeat(' ', n);
    }

    private static void quote(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }

    public static Object parse(String text) {
        Parser p = new Parser(text);
        Object v = p.value();
        p.ws();
        if (p.i != text.length()) throw p.error("trailing characters");
        return v;
    }

    private static final class Parser {
        final String s;
        int i;

        Parser(String s) { this.s = s; }

        IllegalArgumentException error(String what) {
            return new IllegalArgumentException("JSON: " + what + " at offset " + i);
        }

        void ws() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }

        Object value() {
            ws();
            if (i >= s.length()) throw error("unexpected end");
            char c = s.charAt(i);
            return switch (c) {
                case '{' -> object();
                case '[' -> array();
                case '"' -> string();
                case 't' -> literal("true", Boolean.TRUE);
                case 'f' -> literal("false", Boolean.FALSE);
                case 'n' -> literal("null", null);
                default -> number();
            };
        }

        Object literal(String word, Object v) {
            if (!s.startsWith(word, i)) throw error("bad literal");
            i += word.length();
            return v;
        }

        java.util.Map<String, Object> object() {
            java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
            i++;
            ws();
            if (i < s.length() && s.charAt(i) == '}') { i++; return m; }
            while (true) {
                ws();
                if (i >= s.length() || s.charAt(i) != '"') throw error("expected a key");
                String k = string();
                ws();
                if (i >= s.length() || s.charAt(i++) != ':') throw error("expected ':'");
                m.put(k, value());
                ws();
                if (i >= s.length()) throw error("unterminated object");
                char c = s.charAt(i++);
                if (c == '}') return m;
                if (c != ',') throw error("expected ',' or '}'");
            }
        }

        java.util.List<Object> array() {
            java.util.List<Object> l = new java.util.ArrayList<>();
            i++;
            ws();
            if (i < s.length() && s.charAt(i) == ']') { i++; return l; }
            while (true) {
                l.add(value());
                ws();
                if (i >= s.length()) throw error("unterminated array");
                char c = s.charAt(i++);
                if (c == ']') return l;
                if (c != ',') throw error("expected ',' or ']'");
            }
        }

        String string() {
            StringBuilder sb = new StringBuilder();
            i++;
            while (true) {
                if (i >= s.length()) throw error("unterminated string");
                char c = s.charAt(i++);
                if (c == '"') return sb.toString();
                if (c != '\\') { sb.append(c); continue; }
                if (i >= s.length()) throw error("bad escape");
                char e = s.charAt(i++);
                switch (e) {
                    case 'n' -> sb.append('\n');
                    case 't' -> sb.append('\t');
                    case 'r' -> sb.append('\r');
                    case 'b' -> sb.append('\b');
                    case 'f' -> sb.append('\f');
                    case 'u' -> {
                        if (i + 4 > s.length()) throw error("bad unicode escape");
                        sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                    }
                    default -> sb.append(e);
                }
            }
        }

        Object number() {
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
            String n = s.substring(start, i);
            if (n.isEmpty()) throw error("unexpected character '" + s.charAt(start) + "'");
            try {
                return n.contains(".") || n.contains("e") || n.contains("E") ? (Object) Double.parseDouble(n) : (Object) Long.parseLong(n);
            } catch (NumberFormatException e) {
                throw error("bad number " + n);
            }
        }
    }
}
