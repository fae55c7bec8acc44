package dev.nvmelm.vm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The migratable VM guest: the Debian cloud kernel and the initrd with virtio-blk and the
 * verifying writer (scripts/guest/vm-guest.sh, docs/vm.md). {@link #build} runs
 * scripts/guest-build.sh, which fetches and builds into its cache only what is missing, so a
 * second call costs well under a second and nothing is downloaded once the cache is full.
 */
public record GuestImage(Path kernel, Path initrd, String kernelRelease) {
    /** Builds or reuses the guest under {@code cache}, with the scripts of the repository at {@code repoRoot}. */
    public static GuestImage build(Path repoRoot, Path cache) throws IOException, InterruptedException {
        Path script = repoRoot.resolve("scripts/guest-build.sh");
        if (!Files.isExecutable(script)) throw new IOException(script + " not found: the VM guest is built from the repository's scripts");
        Path out = Files.createTempFile("guest-build", ".out");
        try {
            Process p = new ProcessBuilder(script.toString(), cache.toString()).redirectErrorStream(true)
                    .redirectOutput(out.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            int rc = p.waitFor();
            String text = Files.readString(out, StandardCharsets.UTF_8);
            if (rc != 0) throw new IOException("scripts/guest-build.sh failed (exit " + rc + "):\n" + text.strip());
            Map<String, String> kv = new LinkedHashMap<>();
            for (String line : text.split("\n")) {
                int eq = line.indexOf('=');
                if (eq > 0 && line.substring(0, eq).matches("[A-Z_]+")) kv.put(line.substring(0, eq), line.substring(eq + 1).strip());
            }
            for (String k : new String[]{"KERNEL", "VM_INITRD", "KERNEL_RELEASE"}) {
                if (!kv.containsKey(k)) throw new IOException("scripts/guest-build.sh printed no " + k + ":\n" + text.strip());
            }
            return new GuestImage(Path.of(kv.get("KERNEL")), Path.of(kv.get("VM_INITRD")), kv.get("KERNEL_RELEASE"));
        } finally {
            Files.deleteIfExists(out);
        }
    }
}
