/// Perplexity over document length: aggregation, renderers, sparklines, SVG and worst spans.
///
/// Everything works on plain values (`LossSeries`, `Bucket`) so callers can feed it from the
/// store, from a live run or from synthetic data.
public enum PerplexityReport {}
