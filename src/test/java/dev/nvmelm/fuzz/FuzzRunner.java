package dev.nvmelm.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Runs every Jazzer fuzz target (each {@code @FuzzTest} method of a {@code *FuzzTest} class) in
 * fuzzing mode, one child JVM per target ({@link FuzzChild}), for a fixed time each; what
 * {@code scripts/fuzz.sh} starts (docs/testing.md, "Fuzzing"). A finding Jazzer writes into the
 * child's working directory is moved into the target's regression inputs,
 * {@code src/test/resources/<package>/<Class>Inputs/<method>/}, where the regression run of
 * {@code mvn test} replays it from then on.
 */
public final class FuzzRunner {
    private FuzzRunner() {}

    /** A fuzz target: the test class and one of its {@code @FuzzTest} methods. */
    public record Target(String className, String method) {
        /** The short name the script prints: the package under dev.nvmelm, then the method, e.g. {@code nbd.server}. */
        public String name() {
            String pkg = className.substring(0, className.lastIndexOf('.'));
            return pkg.replaceFirst("^dev\\.nvmelm\\.", "") + "." + method;
        }

        Path inputsDirectory(Path projectRoot) {
            return projectRoot.resolve("src/test/resources").resolve(className.replace('.', '/') + "Inputs").resolve(method);
        }
    }

    /** What one target's run did. */
    public record Result(Target target, long executions, int crashes, List<Path> savedInputs, int exitCode) {}

    /** Heap of a child: a target that allocates beyond its declared limits dies of OutOfMemoryError, a finding. */
    static final String CHILD_HEAP = "-Xmx768m";
    private static final Pattern DONE = Pattern.compile("^Done (\\d+) runs", Pattern.MULTILINE);
    private static final Pattern STATUS = Pattern.compile("^#(\\d+)\\s", Pattern.MULTILINE);

    public static void main(String[] args) throws Exception {
        int seconds = 30;
        boolean json = false;
        String only = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--seconds-per-target" -> seconds = Integer.parseInt(args[++i]);
                case "-o" -> json = "json".equals(args[++i]);
                case "--only" -> only = args[++i];
                case "--list" -> only = "\0list";
                default -> {
                    System.err.println("fuzz: unknown argument " + args[i]
                            + " (usage: fuzz.sh [--seconds-per-target N] [--only NAME] [--list] [-o json])");
                    System.exit(2);
                }
            }
        }
        if (seconds <= 0) {
            System.err.println("fuzz: --seconds-per-target must be positive");
            System.exit(2);
        }
        Path root = Path.of("").toAbsolutePath();
        List<Target> targets = discover(root.resolve("target/test-classes"));
        if ("\0list".equals(only)) {
            for (Target t : targets) System.out.println(t.name());
            return;
        }
        if (only != null) {
            String o = only;
            targets = targets.stream().filter(t -> t.name().contains(o)).toList();
            if (targets.isEmpty()) {
                System.err.println("fuzz: no target matches '" + only + "' (--list names them)");
                System.exit(2);
            }
        }
        List<Result> results = new ArrayList<>();
        for (Target t : targets) {
            if (!json) System.err.println("fuzz: " + t.name() + " for " + seconds + " s");
            Result r = run(t, seconds, root, System.getProperty("java.class.path"), root.resolve("target/fuzz-work"));
            results.add(r);
            if (!json) {
                System.out.printf(Locale.ROOT, "%-28s executions %10d  crashes %d%s%n", t.name(), r.executions(), r.crashes(),
                        r.savedInputs().isEmpty() ? "" : "  saved " + r.savedInputs());
            }
        }
        int crashes = results.stream().mapToInt(Result::crashes).sum();
        if (json) System.out.println(toJson(results));
        else System.out.println(results.size() + " targets, " + crashes + " crashes");
        System.exit(crashes == 0 ? 0 : 1);
    }

    /** Every {@code @FuzzTest} method of every {@code *FuzzTest} class under {@code testClasses}, sorted by name. */
    public static List<Target> discover(Path testClasses) throws IOException, ClassNotFoundException {
        List<Target> out = new ArrayList<>();
        try (Stream<Path> files = Files.walk(testClasses)) {
            for (Path p : files.filter(f -> f.getFileName().toString().endsWith("FuzzTest.class")).toList()) {
                String rel = testClasses.relativize(p).toString();
                String cls = rel.substring(0, rel.length() - ".class".length()).replace('/', '.');
                for (Method m : Class.forName(cls, false, FuzzRunner.class.getClassLoader()).getDeclaredMethods()) {
                    if (m.isAnnotationPresent(FuzzTest.class)) out.add(new Target(cls, m.getName()));
                }
            }
        }
        out.sort(Comparator.comparing(Target::name));
        return out;
    }

    /**
     * Fuzzes one target for {@code seconds} in a child JVM whose working directory is {@code work}
     * (Jazzer keeps its generated corpus there, under .cifuzz-corpus), then moves its findings
     * into the target's regression inputs.
     */
    public static Result run(Target t, int seconds, Path projectRoot, String classPath, Path work) throws IOException, InterruptedException {
        Files.createDirectories(work);
        List<Path> before = findings(work);
        Path log = work.resolve(t.name() + ".log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, CHILD_HEAP, "-XX:+EnableDynamicAgentLoading", "--enable-native-access=ALL-UNNAMED",
                "-Djazzer.max_duration=" + seconds + "s", "-cp", classPath, FuzzChild.class.getName(), t.className(), t.method())
                .directory(work.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("JAZZER_FUZZ", "1");
        Process p = pb.start();
        // the run is bounded by max_duration; the margin covers start-up and a slow machine
        if (!p.waitFor(seconds + 300L, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        List<Path> saved = new ArrayList<>();
        for (Path f : findings(work)) {
            if (before.contains(f)) continue;
            Path dir = t.inputsDirectory(projectRoot);
            Files.createDirectories(dir);
            Path to = dir.resolve(f.getFileName());
            Files.move(f, to, StandardCopyOption.REPLACE_EXISTING);
            saved.add(projectRoot.relativize(to));
        }
        int exit = p.exitValue();
        // a failed child that wrote no input (a crash during start-up, say) still counts as one
        int crashes = saved.isEmpty() && exit != 0 ? 1 : saved.size();
        return new Result(t, executions(out), crashes, saved, exit);
    }

    /** The runs libFuzzer reports: its final "Done N runs", or the last status line when a finding stopped it. */
    static long executions(String log) {
        long n = 0;
        Matcher d = DONE.matcher(log);
        while (d.find()) n = Math.max(n, Long.parseLong(d.group(1)));
        Matcher s = STATUS.matcher(log);
        while (s.find()) n = Math.max(n, Long.parseLong(s.group(1)));
        return n;
    }

    private static List<Path> findings(Path work) throws IOException {
        try (Stream<Path> s = Files.list(work)) {
            return s.filter(f -> {
                String n = f.getFileName().toString();
                return n.startsWith("crash-") || n.startsWith("timeout-") || n.startsWith("oom-") || n.startsWith("leak-");
            }).toList();
        }
    }

    static String toJson(List<Result> results) {
        StringBuilder b = new StringBuilder("{\"targets\": [");
        for (int i = 0; i < results.size(); i++) {
            Result r = results.get(i);
            if (i > 0) b.append(", ");
            b.append("{\"name\": \"").append(r.target().name()).append("\", \"executions\": ").append(r.executions())
                    .append(", \"crashes\": ").append(r.crashes()).append(", \"saved\": [");
            b.append(String.join(", ", r.savedInputs().stream().map(p -> "\"" + p + "\"").toArray(String[]::new)));
            b.append("]}");
        }
        b.append("], \"crashes\": ").append(results.stream().mapToInt(Result::crashes).sum()).append("}");
        return b.toString();
    }
}
