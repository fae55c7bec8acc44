package dev.nvmelm.util;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class JsonTest {
    @Test
    void writesAndParsesBack() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cdqid", 3L);
        m.put("name", "a \"quoted\"\nline\t\u0001");
        m.put("ok", true);
        m.put("none", null);
        m.put("rate", 1.5);
        m.put("list", List.of(1L, 2L, Map.of("x", -4L)));
        m.put("empty", Map.of());
        String text = Json.pretty(m);
        assertThat(text).contains("\"cdqid\": 3").contains("\\\"quoted\\\"");
        assertThat(Json.parse(text)).isEqualTo(m);
    }

    /** Map.of iterates in an order salted per JVM run; the writer sorts such maps so output never changes between runs. */
    @Test
    void aMapWithoutAnOrderIsWrittenSorted() {
        Map<String, Object> m = Map.of("result", "success", "nsid", 1L, "slba", 0L, "nlb", 7L, "alpha", 2L, "zeta", 3L);
        assertThat(Json.compact(m)).isEqualTo("{\"alpha\":2,\"nlb\":7,\"nsid\":1,\"result\":\"success\",\"slba\":0,\"zeta\":3}");
    }

    @Test
    void rejectsMalformedInput() {
        assertThatThrownBy(() -> Json.parse("{\"a\": }")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Json.parse("[1, 2")).hasMessageContaining("unterminated");
        assertThatThrownBy(() -> Json.parse("{} x")).hasMessageContaining("trailing");
    }

    @org.junit.jupiter.api.Test
    void compactIsOneLineAndParsesBack() {
        var m = new java.util.LinkedHashMap<String, Object>();
        m.put("a", 1L);
        m.put("s", "x y\nz");
        m.put("l", java.util.List.of(1L, 2L));
        m.put("e", java.util.Map.of());
        String c = Json.compact(m);
        org.assertj.core.api.Assertions.assertThat(c).isEqualTo("{\"a\":1,\"s\":\"x y\\nz\",\"l\":[1,2],\"e\":{}}");
        org.assertj.core.api.Assertions.assertThat(Json.parse(c)).isEqualTo(Json.parse(Json.pretty(m)));
    }
}
