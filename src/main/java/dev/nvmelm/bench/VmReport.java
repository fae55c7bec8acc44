package dev.nvmelm.bench;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/** {@code bench vm}'s table, goal lines, plots and report section (VmScenario measures; this only renders). */
public final class VmReport {
    private VmReport() {}

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> runs(Map<String, Object> r) {
        return (List<Map<String, Object>>) (List<?>) r.get("runs");
    }

    /** The runs as a text table, then the goal lines. */
    public static String table(Map<String, Object> result) {
        StringBuilder b = new StringBuilder("\n");
        b.append(String.format(Locale.ROOT, "%-24s %6s %7s %9s %9s %10s %11s %9s %11s %9s %s%n", "mode", "rate", "guest", "total s",
                "downtime", "link/disk", "storage/disk", "max lat", "IOPS during", "verified", "guest verify"));
        b.append(String.format(Locale.ROOT, "%-24s %6s %7s %9s %9s %10s %11s %9s %11s %9s%n", "", "asked", "before", "", "ms", "", "", "ms", "", ""));
        for (Map<String, Object> x : runs(result)) {
            b.append(String.format(Locale.ROOT, "%-24s %6s %7s %9s %9s %10s %11s %9s %11s %9s %s%n", x.get("mode"), x.get("iops_requested"),
                    cell(x.get("guest_iops_before")), x.get("total_ms") instanceof Number n ? String.format(Locale.ROOT, "%.2f", n.doubleValue() / 1000) : "-",
                    cell(x.get("vm_downtime_ms")), cell(x.get("link_over_disk")), cell(x.get("storage_over_disk")),
                    cell(x.get("guest_max_write_latency_ms")), cell(x.get("guest_iops_during")), x.get("verified"),
                    Objects.requireNonNullElse(x.get("guest_verify"), "-")));
        }
        for (Map<String, Object> x : runs(result)) {
            if (isNvmeLm(x) && x.get("engine_total_ms") != null) {
                b.append(String.format(Locale.ROOT, x.get("mode") + " at %s: engine total %s ms, vm_total_ms %s, storage stop %s ms, %s passes (total s above: the whole process)%n",
                        x.get("iops_requested"), x.get("engine_total_ms"), x.get("vm_total_ms"), x.get("storage_stop_ms"), x.get("passes")));
            }
        }
        for (Map<String, Object> x : runs(result)) {
            if (x.get("failure") != null) b.append("failed: ").append(x.get("mode")).append(" at ").append(x.get("iops_requested")).append(": ").append(x.get("failure")).append("\n");
        }
        b.append("\n");
        for (String g : goals(result)) b.append(g).append("\n");
        return b.toString();
    }

    private static String cell(Object v) {
        if (v == null) return "-";
        if (v instanceof Double d) return String.format(Locale.ROOT, "%.1f", d);
        return v.toString();
    }

    private static Map<String, Object> find(Map<String, Object> r, String mode, Object iops) {
        for (Map<String, Object> x : runs(r)) if (mode.equals(x.get("mode")) && Objects.equals(iops, x.get("iops_requested"))) return x;
        return null;
    }

    private static double d(Map<String, Object> m, String k) {
        return m != null && m.get(k) instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    private static String ms(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.1f", v);
    }

    private static String met(boolean ok) {
        return ok ? "met" : "NOT met";
    }

    /** An nvme-lm row: {@code nvme-lm} (cross-host), or {@code nvme-lm-local} in results of before it. */
    private static boolean isNvmeLm(Map<String, Object> run) {
        return "nvme-lm".equals(run.get("mode")) || "nvme-lm-local".equals(run.get("mode"));
    }

    /** The goals, each as measured (a missing number is "not measured", never met). */
    static List<String> goals(Map<String, Object> r) {
        List<String> out = new ArrayList<>();
        for (Map<String, Object> n : runs(r)) {
            if (!isNvmeLm(n)) continue;
            Object iops = n.get("iops_requested");
            Map<String, Object> bg = find(r, "mirror-background", iops), wb = find(r, "mirror-write-blocking", iops);
            // the rate each guest reached before its migration: under TCG on a busy machine they differ
            String at = "at " + iops + " IOPS asked (reached: nvme-lm " + cell(n.get("guest_iops_before")) + ", background "
                    + cell(bg == null ? null : bg.get("guest_iops_before")) + ", write-blocking " + cell(wb == null ? null : wb.get("guest_iops_before")) + "): ";
            boolean migrated = Boolean.TRUE.equals(n.get("converged")) && Boolean.TRUE.equals(n.get("verified"));
            out.add("goal nvme-lm converges " + at + (Boolean.TRUE.equals(n.get("converged")) ? "yes" : "no") + ": " + met(migrated));
            if (!migrated) {
                out.add("goal downtime, latency and total time " + at + "not measured (nvme-lm did not migrate this run)");
                continue;
            }
            double dn = d(n, "vm_downtime_ms"), dbg = d(bg, "vm_downtime_ms"), dwb = d(wb, "vm_downtime_ms");
            double mirrorBest = Math.min(Double.isNaN(dbg) ? Double.MAX_VALUE : dbg, Double.isNaN(dwb) ? Double.MAX_VALUE : dwb);
            out.add(String.format(Locale.ROOT, "goal VM downtime <= the libvirt way's %s%s ms vs %s (background) / %s (write-blocking) ms: %s", at,
                    ms(dn), ms(dbg), ms(dwb), Double.isNaN(dn) || mirrorBest == Double.MAX_VALUE ? "not measured" : met(dn <= mirrorBest)));
            if (((Number) iops).intValue() <= 200) {
                out.add(String.format(Locale.ROOT, "goal VM downtime <= 50 ms (one run, not a median) %s%.0f ms: %s", at, dn, Double.isNaN(dn) ? "not measured" : met(dn <= 50)));
            }
            double ln = d(n, "guest_max_write_latency_ms"), lwb = d(wb, "guest_max_write_latency_ms");
            out.add(String.format(Locale.ROOT, "goal guest max write latency <= half the write-blocking mirror's %s%s ms vs %s ms: %s", at, ms(ln), ms(lwb),
                    Double.isNaN(ln) || Double.isNaN(lwb) ? "not measured" : met(ln <= lwb / 2)));
            double tn = d(n, "total_ms"), tbg = d(bg, "total_ms");
            out.add(String.format(Locale.ROOT, "goal total time <= the background mirror's %s%.2f s vs %.2f s: %s", at, tn / 1000, tbg / 1000,
                    Double.isNaN(tn) || Double.isNaN(tbg) ? "not measured" : met(tn <= tbg)));
        }
        out.add("goal bytes moved <= 1.05x (allocated + distinct bytes dirtied): not measured (the distinct bytes the guest dirtied are not counted)");
        out.add("goal dirty passes >= 50 MB/s of random 4 KiB ranges with the guest running: not measured here (see bench migrate / bench live)");
        return out;
    }

    /** Per rate: the guest's write latency and the bytes remaining over time, resume on the destination marked. */
    @SuppressWarnings("unchecked")
    static List<Path> plots(Map<String, Object> r, Path dir) throws IOException {
        List<Path> out = new ArrayList<>();
        for (Object iops : (List<Object>) ((Map<String, Object>) r.get("settings")).get("iops_requested")) {
            XYChart lat = new XYChartBuilder().width(900).height(420).title("guest write latency (max per 250 ms report), " + iops + " IOPS asked")
                    .xAxisTitle("seconds since the migration started").yAxisTitle("ms").build();
            XYChart rem = new XYChartBuilder().width(900).height(420).title("storage bytes remaining (mirror: len - offset), " + iops + " IOPS asked")
                    .xAxisTitle("seconds since the migration started").yAxisTitle("MiB").build();
            double maxLat = 1, maxRem = 1;
            for (Map<String, Object> x : runs(r)) {
                if (!Objects.equals(iops, x.get("iops_requested"))) continue;
                String name = (String) x.get("mode");
                List<double[]> pl = BenchPlots.series(x.get("timeline_latency_ms"), 1), pr = BenchPlots.series(x.get("timeline_remaining_bytes"), 1.0 / (1 << 20));
                if (!pl.isEmpty()) {
                    lat.addSeries(name, pl.stream().mapToDouble(p -> p[0]).toArray(), pl.stream().mapToDouble(p -> p[1]).toArray());
                    maxLat = Math.max(maxLat, pl.stream().mapToDouble(p -> p[1]).max().orElse(1));
                }
                if (!pr.isEmpty()) {
                    rem.addSeries(name, pr.stream().mapToDouble(p -> p[0]).toArray(), pr.stream().mapToDouble(p -> p[1]).toArray());
                    maxRem = Math.max(maxRem, pr.stream().mapToDouble(p -> p[1]).max().orElse(1));
                }
            }
            for (Map<String, Object> x : runs(r)) {
                if (!Objects.equals(iops, x.get("iops_requested")) || !(x.get("resumed_s") instanceof Number sw)) continue;
                double v = sw.doubleValue();
                lat.addSeries(x.get("mode") + " resumed on dest", new double[]{v, v}, new double[]{0, maxLat}).setLineStyle(org.knowm.xchart.style.lines.SeriesLines.DASH_DASH);
                rem.addSeries(x.get("mode") + " resumed on dest", new double[]{v, v}, new double[]{0, maxRem}).setLineStyle(org.knowm.xchart.style.lines.SeriesLines.DASH_DASH);
            }
            for (XYChart c : List.of(lat, rem)) {
                c.getStyler().setMarkerSize(3);
                c.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNE);
            }
            Path pl = dir.resolve("vm-latency-" + iops + "iops.png"), pr = dir.resolve("vm-remaining-" + iops + "iops.png");
            BitmapEncoder.saveBitmap(lat, pl.toString(), BitmapEncoder.BitmapFormat.PNG);
            out.add(pl);
            if (!rem.getSeriesMap().isEmpty()) {
                BitmapEncoder.saveBitmap(rem, pr.toString(), BitmapEncoder.BitmapFormat.PNG);
                out.add(pr);
            }
        }
        return out;
    }

    /** The report's section (text before the table), for docs/benchmarks.md. */
    static String intro() {
        return """
                A Linux guest (Debian cloud kernel, busybox, scripts/guest/vm-writer.c: random 4 KiB O_DIRECT writes, one at a
                time, paced to the rate asked, every block carrying its index, sequence and checksum) on a virtio-blk disk,
                QEMU under TCG, 256 MiB RAM, migrated live with its RAM at each rate. Two hosts are two network namespaces
                joined by a veth pair (vm.TwoHosts). The libvirt way: the destination QEMU on host B runs `nbd-server-start`
                + `block-export-add` over its disk file, the source QEMU on host A `blockdev-add`s an nbd node to it and
                `blockdev-mirror sync=full` (background copy, then `copy-mode=write-blocking`), waits for BLOCK_JOB_READY,
                migrates with `pause-before-switchover`, ends the job with `block-job-cancel` in the pause (as libvirt does
                after READY), `migrate-continue`. nvme-lm: the disk is MC 1's export of `device serve --nbd` on host A, the agent `nvme-lm serve --nbd` (TLS,
                certificates from `nvme-lm tls gen`) runs on host B, the destination QEMU there on the agent's export of the
                migration, and `nvme-lm migrate --source sim:D#1 --to B:PORT --vm-qmp --vm-to --max-downtime 500` on host A
                drives both (storage stop inside QEMU's pause); storage and RAM cross the link. Results of before the
                cross-host flow are labelled `nvme-lm-local` (the storage moved MC 1 -> MC 2 on host A, only the RAM crossed).
                Both sides: max-bandwidth 10 GiB/s, downtime-limit 50 ms. Total time: the mirror's from `nbd-server-start` to
                MIGRATION completed; nvme-lm's the whole `nvme-lm migrate` process (JVM start included). Downtime: QEMU's
                `query-migrate`. Link bytes: veth tx+rx on host A. Storage bytes: the mirror's are the link bytes minus QEMU's
                RAM bytes; nvme-lm's its own `bytes_copied` (its link bytes are storage, RAM and TLS framing). Guest latency and IOPS: the guest's own WRITER-PROGRESS
                lines (every 250 ms), cut on the host's clock from the migration's start to the first report after its end.
                Verified: the guest, now on the destination, read back every block it ever wrote ("VERIFY ok"); a run
                that did not migrate is not verified (its guest_verify is the guest's check on the source). "guest before"
                is the rate the guest reached before the migration: under TCG the 2000 asked is not reached everywhere.
                One run per mode and rate, so the downtime goal's "median" is a single value. Not part of `bench all`
                (QEMU under TCG, about 3 minutes). Reproduce:

                ```
                ./nvme-lm bench vm            # --iops 200,2000 --size 64M; builds or reuses the guest in target/guest
                ./nvme-lm bench report
                ```
                """;
    }
}
