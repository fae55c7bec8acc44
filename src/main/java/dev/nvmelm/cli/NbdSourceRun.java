package dev.nvmelm.cli;

import dev.nvmelm.block.BlockDevice;
import dev.nvmelm.block.FileBlockDevice;
import dev.nvmelm.migrate.copy.Copier;
import dev.nvmelm.migrate.copy.Verifier;
import dev.nvmelm.nbd.Nbd;
import dev.nvmelm.nbd.NbdBlockDevice;
import dev.nvmelm.nbd.NbdClient;
import dev.nvmelm.nbd.NbdSourceCopy;
import dev.nvmelm.nbd.NbdUri;
import dev.nvmelm.util.Json;

import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code migrate --source NBD-URI (--dest-image DST | --dest NBD-URI)}: a storage-only copy out
 * of an NBD export, with dirty passes when the export offers a dirty map (see {@link NbdSourceCopy}).
 */
final class NbdSourceRun {
    static final String PREFIX_QEMU_BITMAP = "qemu:dirty-bitmap:";

    private NbdSourceRun() {}

    static int run(MigrateCommand c, PrintWriter out, PrintWriter err) throws Exception {
        String srcUri = c.sourceDevice;
        if (c.to != null) throw new CliException("--to HOST:PORT goes with --source-image; an NBD source goes to --dest-image DST or --dest NBD-URI");
        if (c.source != null) throw new CliException("--source NBD-URI and --source-image exclude each other");
        if (c.workload != null) {
            throw new CliException("--workload runs a guest on the embedded controller; an NBD source has none here (its writers are outside nvme-lm)");
        }
        if ((c.dest == null) == (c.destDevice == null)) throw new CliException("--source NBD-URI needs --dest-image DST or --dest NBD-URI (one of them)");
        if (c.destDevice != null && !NbdUri.looksLikeNbd(c.destDevice)) {
            throw new CliException("--dest " + c.destDevice + ": with an NBD source the destination is an image (--dest-image) or an NBD URI");
        }
        NbdUri src = parse("--source", srcUri);
        NbdUri dstUri = c.destDevice == null ? null : parse("--dest", c.destDevice);
        if (dstUri != null) SameStorage.refuseExports(src, dstUri);
        SSLContext tls = tls(c.tls, src, dstUri);
        String wanted = c.dirtyContext;
        String[] chosen = {null};
        NbdClient.Options opts = switch (wanted) {
            case "none" -> NbdClient.Options.PLAIN;
            case "auto" -> new NbdClient.Options(List.of(Nbd.NVME_LM_DIRTY, PREFIX_QEMU_BITMAP), offered -> {
                List<String> bitmaps = offered.stream().filter(x -> x.startsWith(PREFIX_QEMU_BITMAP)).toList();
                if (offered.contains(Nbd.NVME_LM_DIRTY)) chosen[0] = Nbd.NVME_LM_DIRTY;
                else if (bitmaps.size() == 1) chosen[0] = bitmaps.getFirst();
                else if (bitmaps.size() > 1) throw new IllegalArgumentException("the export offers several dirty bitmaps " + bitmaps + "; name one with --dirty-context");
                return chosen[0] == null ? List.of() : List.of(chosen[0]);
            }, null);
            default -> new NbdClient.Options(List.of(wanted), offered -> {
                if (!offered.contains(wanted)) throw new IllegalArgumentException("the export offers no context " + wanted + (offered.isEmpty() ? "" : " (it offers " + offered + ")"));
                chosen[0] = wanted;
                return List.of(wanted);
            }, null);
        };
        if (tls != null && src.tls()) opts = opts.withTls(tls);
        if (c.engine.maxPasses < 1) throw new CliException("--max-passes must be at least 1");
        Verifier.Mode verify = c.engine.verifyMode(Verifier.Mode.FULL);
        Copier.Config copy = Copier.Config.defaults().withRateLimit(c.engine.maxRate);
        Duration timeout = Duration.ofSeconds(60);

        NbdBlockDevice source;
        try {
            source = NbdBlockDevice.open(srcUri, c.lbaSize, timeout, opts);
        } catch (IOException | IllegalArgumentException e) {
            throw new CliException("--source: " + e.getMessage());
        }
        boolean json = c.g.format() == OutputFormat.JSON;
        // a file this run creates is all holes: the bulk copy need not zero it
        boolean fresh = c.dest != null && !Files.exists(c.dest);
        try (source; BlockDevice dest = openDestination(c, dstUri, tls, source.sizeBytes(), timeout)) {
            NbdSourceCopy copier;
            try {
                copier = new NbdSourceCopy(source, dest, new NbdSourceCopy.Options(chosen[0], c.engine.maxPasses, copy.withDestinationIsZero(fresh), verify));
            } catch (IllegalArgumentException e) {
                throw new CliException(e.getMessage());
            }
            NbdSourceCopy.Report r;
            try {
                r = copier.run(new NbdSourceCopy.Listener() {
                    @Override
                    public void afterBulk(long data, long zero) {
                        if (!json) err.printf("bulk copy: %s data, %s zeroes/holes%n", MigrationRun.human(data), MigrationRun.human(zero));
                    }

                    @Override
                    public void afterPass(NbdSourceCopy.Pass p) {
                        if (!json) err.printf("dirty pass %d: %s dirty, %s differed and rewritten%s%n", p.number(), MigrationRun.human(p.dirtyBytes()),
                                MigrationRun.human(p.bytesRewritten()), p.mapGrew() ? ", the map grew" : "");
                    }
                });
            } catch (IOException e) {
                throw new CliException("copy from " + srcUri + " failed: " + e.getMessage() + "; " + dest.name() + " is incomplete");
            }
            boolean verified = verify != Verifier.Mode.NONE && r.verify().ok();
            report(out, json, srcUri, dest.name(), source.sizeBytes(), r, verify, verified);
            return verified || verify == Verifier.Mode.NONE ? 0 : 1;
        }
    }

    private static BlockDevice openDestination(MigrateCommand c, NbdUri dstUri, SSLContext tls, long size, Duration timeout) {
        if (dstUri != null) {
            NbdBlockDevice d;
            try {
                d = NbdBlockDevice.open(c.destDevice, c.lbaSize, timeout, tls != null && dstUri.tls() ? NbdClient.Options.PLAIN.withTls(tls) : NbdClient.Options.PLAIN);
            } catch (IOException | IllegalArgumentException e) {
                throw new CliException("--dest: " + e.getMessage());
            }
            if (d.client().readOnly()) {
                close(d);
                throw new CliException("--dest " + c.destDevice + " is read-only");
            }
            return d;
        }
        try {
            return FileBlockDevice.createOrReuse(c.dest, size, c.lbaSize);
        } catch (IOException e) {
            throw new CliException("--dest-image " + e.getMessage());
        }
    }

    private static void close(BlockDevice d) {
        try {
            d.close();
        } catch (IOException ignored) {
            // refusing anyway
        }
    }

    private static NbdUri parse(String option, String uri) {
        try {
            return NbdUri.parse(uri);
        } catch (IllegalArgumentException e) {
            throw new CliException(option + " " + e.getMessage());
        }
    }

    /** Client options for an NBD destination of {@code migrate --source-image}: TLS for nbds://, plain otherwise. */
    static NbdClient.Options clientOptions(TlsOptions t, String option, String uri) {
        NbdUri u = parse(option, uri);
        SSLContext ctx = tls(t, u, null);
        return ctx == null ? NbdClient.Options.PLAIN : NbdClient.Options.PLAIN.withTls(ctx);
    }

    /** The client certificate for nbds:// URIs; TLS options without an nbds:// URI are a mistake. */
    private static SSLContext tls(TlsOptions t, NbdUri src, NbdUri dst) {
        boolean any = t.cert != null || t.key != null || t.ca != null;
        boolean wants = src.tls() || (dst != null && dst.tls());
        if (t.insecure) throw new CliException("--insecure is for the migration agents; NBD URIs say nbd:// (plaintext) or nbds:// (TLS)");
        if (!wants) {
            if (any) throw new CliException("--tls-cert/--tls-key/--tls-ca go with nbds:// URIs");
            return null;
        }
        if (!any) throw new CliException("nbds:// needs --tls-cert, --tls-key and --tls-ca (nvme-lm tls gen --dir D makes a set)");
        return TlsOptions.context(t.cert, t.key, t.ca, "nbds:// needs --tls-cert, --tls-key and --tls-ca");
    }

    private static void report(PrintWriter out, boolean json, String src, String dst, long size, NbdSourceCopy.Report r, Verifier.Mode verify, boolean verified) {
        long rewritten = r.passes().stream().mapToLong(NbdSourceCopy.Pass::bytesRewritten).sum();
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("verified", verified);
            m.put("verdict", r.verdict());
            m.put("converged", r.converged());
            m.put("source", src);
            m.put("destination", dst);
            m.put("dirty_context", r.dirtyContext() == null ? "" : r.dirtyContext());
            m.put("bytes_total", size);
            m.put("bytes_data_copied", r.bytesData());
            m.put("bytes_zero_skipped", r.bytesZero());
            m.put("passes", r.passes().size());
            List<Object> ps = new ArrayList<>();
            for (NbdSourceCopy.Pass p : r.passes()) {
                Map<String, Object> pm = new LinkedHashMap<>();
                pm.put("dirty_bytes", p.dirtyBytes());
                pm.put("bytes_compared", p.bytesCompared());
                pm.put("bytes_rewritten", p.bytesRewritten());
                pm.put("map_grew", p.mapGrew());
                ps.add(pm);
            }
            m.put("pass_detail", ps);
            m.put("bytes_dirty_rewritten", rewritten);
            m.put("flush_ms", Math.round(r.flushMs() * 100) / 100.0);
            m.put("total_ms", r.totalMs());
            m.put("verify_mode", verify.name().toLowerCase());
            m.put("verify_bytes_compared", r.verify().bytesCompared());
            m.put("verify_first_mismatch", r.verify().firstMismatch());
            out.println(Json.pretty(m));
            return;
        }
        out.printf("nvme-lm migrate: %s -> %s (storage only: an NBD source has no controller to move)%n", src, dst);
        out.printf("  verdict       %s%n", r.verdict());
        out.printf("  copied        %s (data %s in bulk, %s rewritten in %d dirty passes; %s as zeroes/holes)%n",
                MigrationRun.human(r.bytesData() + r.bytesZero() + rewritten), MigrationRun.human(r.bytesData()), MigrationRun.human(rewritten),
                r.passes().size(), MigrationRun.human(r.bytesZero()));
        out.printf("  dirty map     %s%n", r.dirtyContext() == null ? "none (a storage-only copy)" : r.dirtyContext());
        out.printf("  flush         %.2f ms on the destination%n", r.flushMs());
        out.printf("  total         %.2f s%n", r.totalMs() / 1000.0);
        if (verify == Verifier.Mode.NONE) {
            out.println("  verified      no (--verify none)");
        } else {
            out.printf("  verified      %s (%s: %s read back from both sides and compared)%n", verified ? "yes" : "NO",
                    verify.name().toLowerCase(), MigrationRun.human(r.verify().bytesCompared()));
            if (!r.verify().ok()) out.printf("  first mismatch at byte %d (the source changed after the last pass, or the destination lost a write)%n", r.verify().firstMismatch());
        }
    }
}
