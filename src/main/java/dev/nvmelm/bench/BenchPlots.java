package dev.nvmelm.bench;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The PNG plots of docs/benchmarks.md (XChart), drawn from the same results {@link BenchReport} renders as tables. */
final class BenchPlots {
    private BenchPlots() {}

    /** Per writer rate: bytes remaining over time and guest IOPS over time, both tools, switchovers marked. */
    @SuppressWarnings("unchecked")
    static List<Path> livePlots(Map<String, Object> r, Path dir) throws IOException {
        List<Path> out = new ArrayList<>();
        for (Object o : (List<Object>) r.get("levels")) {
            Map<String, Object> lv = (Map<String, Object>) o;
            int iops = BenchReport.num(lv, "iops_requested").intValue();
            String name = iops == 0 ? "unlimited" : iops + "iops";
            String what = iops == 0 ? "writer as fast as possible" : iops + " IOPS writer";
            Map<String, Object> a = (Map<String, Object>) lv.get("nvme_lm"), q = (Map<String, Object>) lv.get("qemu_mirror");
            XYChart rem = new XYChartBuilder().width(900).height(420).title("bytes remaining, " + what)
                    .xAxisTitle("seconds since the migration started").yAxisTitle("MiB remaining").build();
            XYChart io = new XYChartBuilder().width(900).height(420).title("guest write IOPS (fio), " + what)
                    .xAxisTitle("seconds since the migration started").yAxisTitle("IOPS").build();
            for (XYChart c : List.of(rem, io)) {
                c.getStyler().setMarkerSize(0);
                c.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNE);
            }
            double maxRem = 1, maxIops = 1;
            for (var tool : List.of(Map.entry("nvme-lm", a), Map.entry("QEMU mirror", q))) {
                List<double[]> pr = series(tool.getValue().get("timeline_remaining"), 1.0 / (1 << 20));
                List<double[]> pi = series(tool.getValue().get("timeline_iops"), 1);
                if (!pr.isEmpty()) {
                    rem.addSeries(tool.getKey(), pr.stream().mapToDouble(p -> p[0]).toArray(), pr.stream().mapToDouble(p -> p[1]).toArray());
                    maxRem = Math.max(maxRem, pr.stream().mapToDouble(p -> p[1]).max().orElse(1));
                }
                if (!pi.isEmpty()) {
                    io.addSeries(tool.getKey(), pi.stream().mapToDouble(p -> p[0]).toArray(), pi.stream().mapToDouble(p -> p[1]).toArray());
                    maxIops = Math.max(maxIops, pi.stream().mapToDouble(p -> p[1]).max().orElse(1));
                }
            }
            for (var tool : List.of(Map.entry("nvme-lm", a), Map.entry("QEMU mirror", q))) {
                Object sw = tool.getValue().get("switchover_start_s");
                String label = tool.getKey() + (sw instanceof Number ? " switchover" : " gave up");
                double x = sw instanceof Number n ? n.doubleValue() : BenchReport.num(tool.getValue(), "end_s").doubleValue();
                if (!Double.isFinite(x)) continue;
                rem.addSeries(label, new double[]{x, x}, new double[]{0, maxRem}).setLineStyle(org.knowm.xchart.style.lines.SeriesLines.DASH_DASH);
                io.addSeries(label, new double[]{x, x}, new double[]{0, maxIops}).setLineStyle(org.knowm.xchart.style.lines.SeriesLines.DASH_DASH);
            }
            Path pr = dir.resolve("live-remaining-" + name + ".png"), pi = dir.resolve("live-iops-" + name + ".png");
            BitmapEncoder.saveBitmap(rem, pr.toString(), BitmapEncoder.BitmapFormat.PNG);
            BitmapEncoder.saveBitmap(io, pi.toString(), BitmapEncoder.BitmapFormat.PNG);
            out.add(pr);
            out.add(pi);
        }
        return out;
    }

    /** A report's [x, y] points (JSON lists) as pairs, y times {@code scale}; none if absent. */
    @SuppressWarnings("unchecked")
    static List<double[]> series(Object pts, double scale) {
        List<double[]> out = new ArrayList<>();
        if (!(pts instanceof List<?> l)) return out;
        for (Object p : l) {
            List<Object> xy = (List<Object>) p;
            out.add(new double[]{((Number) xy.get(0)).doubleValue(), ((Number) xy.get(1)).doubleValue() * scale});
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    static List<Path> copyPlots(Map<String, Object> r, Path dir) throws IOException {
        List<Path> out = new ArrayList<>();
        long size = ((Number) r.get("size_bytes")).longValue();
        for (Object o : (List<Object>) r.getOrDefault("images", List.of())) {
            Map<String, Object> img = (Map<String, Object>) o;
            Map<String, Double> med = BenchReport.medians(img);
            CategoryChart c = new CategoryChartBuilder().width(900).height(420).title("copy " + BenchReport.mib(size) + ", " + img.get("image") + " image (median)")
                    .xAxisTitle("tool").yAxisTitle("MiB/s").build();
            c.getStyler().setLegendVisible(false);
            c.getStyler().setXAxisLabelRotation(20);
            List<String> tools = new ArrayList<>(med.keySet());
            List<Double> rates = tools.stream().map(t -> size / 1048576.0 / med.get(t)).toList();
            c.addSeries("MiB/s", tools, rates);
            Path p = dir.resolve("copy-" + img.get("image") + ".png");
            BitmapEncoder.saveBitmap(c, p.toString(), BitmapEncoder.BitmapFormat.PNG);
            out.add(p);
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    static Path migratePlot(Map<String, Object> r, Path dir) throws IOException {
        Map<String, Object> a = (Map<String, Object>) r.get("a");
        Map<String, Object> qm = (Map<String, Object>) r.getOrDefault("qemu_measured", Map.of());
        Map<String, Object> qa = (Map<String, Object>) qm.getOrDefault("a", Map.of());
        if (a == null || !qa.containsKey("copied_per_size")) return null;
        CategoryChart c = new CategoryChartBuilder().width(700).height(400).title("A: bytes copied per disk byte, 500 IOPS writer")
                .xAxisTitle("").yAxisTitle("bytes copied / disk size").build();
        c.getStyler().setLegendVisible(false);
        c.addSeries("ratio", List.of("nvme-lm", "QEMU mirror"),
                List.of(BenchReport.num(a, "copied_per_size").doubleValue(), BenchReport.num(qa, "copied_per_size").doubleValue()));
        Path p = dir.resolve("migrate-bytes.png");
        BitmapEncoder.saveBitmap(c, p.toString(), BitmapEncoder.BitmapFormat.PNG);
        return p;
    }
}
