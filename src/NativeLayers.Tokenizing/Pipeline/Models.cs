using System.Text;

namespace NativeLayers.Tokenizing.Pipeline;

/// <summary>A tokenizer.json model: turns one pre-tokenized piece into token ids.</summary>
internal interface ITokenModel
{
    string Name { get; }

    /// <summary>
    /// Appends the ids of <paramref name="piece"/>; with <paramref name="tokens"/>, also the token strings Hugging Face
    /// reports: the vocabulary pieces, except that an unknown Unigram run keeps its own text.
    /// </summary>
    void Tokenize(string piece, List<int> ids, List<string>? tokens);

    int? TokenToId(string token);

    string? IdToToken(int id);

    /// <summary>One more than the largest id of the model's vocabulary.</summary>
    int Size { get; }
}

/// <summary>Byte-pair encoding with Hugging Face's options: unknown token (fused or not), byte fallback, sub-word prefix, end-of-word suffix, ignore_merges.</summary>
internal sealed class BpeModel : ITokenModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly string?[] _tokens;
    private readonly Dictionary<long, (int Rank, int NewId)> _merges;
    private readonly string? _unkToken;
    private readonly string? _prefix;
    private readonly string? _suffix;
    private readonly bool _fuseUnk;
    private readonly bool _byteFallback;
    private readonly bool _ignoreMerges;
    private readonly int[] _byteIds = new int[256];
    private readonly Dictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    /// <summary>Words longer than this are not cached (files without a pre-tokenizer give whole texts as one word).</summary>
    private const int MaxCachedLength = 256;

    public BpeModel(Dictionary<string, int> vocab, List<(string A, string B)> merges, string? unkToken, string? prefix, string? suffix,
        bool fuseUnk, bool byteFallback, bool ignoreMerges)
    {
        _vocab = vocab;
        Size = vocab.Count == 0 ? 0 : vocab.Values.Max() + 1;
        _tokens = new string?[Size];
        foreach (var (token, id) in vocab)
            _tokens[id] = token;
        _unkToken = unkToken;
        _prefix = string.IsNullOrEmpty(prefix) ? null : prefix;
        _suffix = string.IsNullOrEmpty(suffix) ? null : suffix;
        _fuseUnk = fuseUnk;
        _byteFallback = byteFallback;
        _ignoreMerges = ignoreMerges;
        for (int b = 0; b < 256; b++)
            _byteIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        _merges = new Dictionary<long, (int, int)>(merges.Count);
        int prefixLength = _prefix?.Length ?? 0;
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (a, b) = merges[rank];
            int idA = vocab.TryGetValue(a, out int ia) ? ia : throw new FormatException($"merge {rank} uses \"{a}\", which is not in the vocabulary");
            int idB = vocab.TryGetValue(b, out int ib) ? ib : throw new FormatException($"merge {rank} uses \"{b}\", which is not in the vocabulary");
            string merged = a + (prefixLength > 0 && b.StartsWith(_prefix!, StringComparison.Ordinal) ? b[prefixLength..] : b);
            int newId = vocab.TryGetValue(merged, out int im) ? im : throw new FormatException($"merge {rank} makes \"{merged}\", which is not in the vocabulary");
            _merges.TryAdd(Key(idA, idB), (rank, newId));
        }
    }

    public string Name => "BPE";

    public int Size { get; }

    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    public string? IdToToken(int id) => id >= 0 && id < _tokens.Length ? _tokens[id] : null;

    public void Tokenize(string piece, List<int> ids, List<string>? tokens)
    {
        int first = ids.Count;
        TokenizeIds(piece, ids);
        for (int i = first; tokens is not null && i < ids.Count; i++)
            tokens.Add(_tokens[ids[i]] ?? "");
    }

    private void TokenizeIds(string piece, List<int> ids)
    {
        if (piece.Length == 0)
            return;
        if (_ignoreMerges && _vocab.TryGetValue(piece, out int whole))
        {
            ids.Add(whole);
            return;
        }
        if (piece.Length > MaxCachedLength)
        {
            ids.AddRange(MergeWord(piece));
            return;
        }
        int[] result;
        lock (_cache)
        {
            if (_cache.TryGetValue(piece, out result!))
            {
                ids.AddRange(result);
                return;
            }
        }
        result = MergeWord(piece);
        lock (_cache)
        {
            if (_cache.Count > 100_000)
                _cache.Clear();
            _cache[piece] = result;
        }
        ids.AddRange(result);
    }

    private static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    private int[] MergeWord(string word)
    {
        var symbols = new List<int>(word.Length);
        int? unkId = _unkToken is not null && _vocab.TryGetValue(_unkToken, out int u) ? u : null;
        bool pendingUnk = false;
        for (int i = 0; i < word.Length;)
        {
            int width = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            string s = word.Substring(i, width);
            bool isFirst = i == 0;
            i += width;
            bool isLast = i >= word.Length;
            if (!isFirst && _prefix is not null)
                s = _prefix + s;
            if (isLast && _suffix is not null)
                s += _suffix;
            if (_vocab.TryGetValue(s, out int id))
            {
                if (pendingUnk)
                {
                    symbols.Add(unkId!.Value);
                    pendingUnk = false;
                }
                symbols.Add(id);
                continue;
            }
            if (_byteFallback)
            {
                byte[] bytes = Encoding.UTF8.GetBytes(s);
                if (bytes.All(b => _byteIds[b] >= 0))
                {
                    // As in Hugging Face, a pending unknown token stays pending across byte-fallback pieces.
                    foreach (byte b in bytes)
                        symbols.Add(_byteIds[b]);
                    continue;
                }
            }
            if (unkId is not null)
            {
                if (pendingUnk && !_fuseUnk)
                    symbols.Add(unkId.Value);
                pendingUnk = true;
            }
        }
        if (pendingUnk)
            symbols.Add(unkId!.Value);
        return MergeAll(symbols);
    }

    /// <summary>Word::merge_all: always the lowest-ranked adjacent pair first, leftmost on ties.</summary>
    private int[] MergeAll(List<int> symbols)
    {
        int n = symbols.Count;
        if (n < 2)
            return [.. symbols];
        var id = symbols.ToArray();
        var prev = new int[n];
        var next = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            alive[i] = true;
        }
        var queue = new PriorityQueue<(int Pos, int NewId), (int Rank, int Pos)>();
        for (int i = 0; i + 1 < n; i++)
        {
            if (_merges.TryGetValue(Key(id[i], id[i + 1]), out var m))
                queue.Enqueue((i, m.NewId), (m.Rank, i));
        }
        while (queue.TryDequeue(out var top, out var priority))
        {
            int pos = top.Pos;
            if (!alive[pos] || next[pos] == -1)
                continue;
            int right = next[pos];
            if (!_merges.TryGetValue(Key(id[pos], id[right]), out var current) || current.NewId != top.NewId || current.Rank != priority.Rank)
                continue;
            id[pos] = top.NewId;
            alive[right] = false;
            next[pos] = next[right];
            if (next[right] != -1)
                prev[next[right]] = pos;
            if (prev[pos] != -1 && _merges.TryGetValue(Key(id[prev[pos]], id[pos]), out var left))
                queue.Enqueue((prev[pos], left.NewId), (left.Rank, prev[pos]));
            if (next[pos] != -1 && _merges.TryGetValue(Key(id[pos], id[next[pos]]), out var after))
                queue.Enqueue((pos, after.NewId), (after.Rank, pos));
        }
        var result = new List<int>(n);
        for (int i = 0; i < n; i++)
        {
            if (alive[i])
                result.Add(id[i]);
        }
        return [.. result];
    }
}

/// <summary>BERT's WordPiece: greedy longest match from the left, "##" before non-initial pieces, [UNK] for a word that cannot be spelled.</summary>
internal sealed class WordPieceModel : ITokenModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly string?[] _tokens;
    private readonly string _unkToken;
    private readonly string _prefix;
    private readonly int _maxInputChars;

    public WordPieceModel(Dictionary<string, int> vocab, string unkToken, string prefix, int maxInputChars)
    {
        _vocab = vocab;
        Size = vocab.Count == 0 ? 0 : vocab.Values.Max() + 1;
        _tokens = new string?[Size];
        foreach (var (token, id) in vocab)
            _tokens[id] = token;
        if (!vocab.ContainsKey(unkToken))
            throw new FormatException($"the unknown token \"{unkToken}\" is not in the vocabulary");
        _unkToken = unkToken;
        _prefix = prefix;
        _maxInputChars = maxInputChars;
    }

    public string Name => "WordPiece";

    public int Size { get; }

    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    public string? IdToToken(int id) => id >= 0 && id < _tokens.Length ? _tokens[id] : null;

    public void Tokenize(string word, List<int> ids, List<string>? tokens)
    {
        int first = ids.Count;
        TokenizeIds(word, ids);
        for (int i = first; tokens is not null && i < ids.Count; i++)
            tokens.Add(_tokens[ids[i]] ?? "");
    }

    private void TokenizeIds(string word, List<int> ids)
    {
        int charCount = 0;
        foreach (var _ in word.EnumerateRunes())
            charCount++;
        if (charCount > _maxInputChars)
        {
            ids.Add(_vocab[_unkToken]);
            return;
        }
        var pieces = new List<int>();
        int start = 0;
        while (start < word.Length)
        {
            int end = word.Length;
            int found = -1;
            while (start < end)
            {
                string sub = word[start..end];
                if (start > 0)
                    sub = _prefix + sub;
                if (_vocab.TryGetValue(sub, out int id))
                {
                    found = id;
                    break;
                }
                end -= end - 2 >= start && char.IsLowSurrogate(word[end - 1]) && char.IsHighSurrogate(word[end - 2]) ? 2 : 1;
            }
            if (found < 0)
            {
                ids.Add(_vocab[_unkToken]);
                return;
            }
            pieces.Add(found);
            start = end;
        }
        ids.AddRange(pieces);
    }
}

/// <summary>SentencePiece's unigram model: the Viterbi best segmentation by piece scores, unknown runs fused, optional byte fallback.</summary>
internal sealed class UnigramModel : ITokenModel
{
    private const double UnknownPenalty = 10.0;

    private readonly List<(string Piece, double Score)> _vocab;
    private readonly Dictionary<string, int> _ids;
    private readonly int? _unkId;
    private readonly bool _byteFallback;
    private readonly double _minScore;
    private readonly TrieNode _root = new();

    private sealed class TrieNode
    {
        public Dictionary<char, TrieNode>? Children;
        public int Id = -1;
    }

    public UnigramModel(List<(string Piece, double Score)> vocab, int? unkId, bool byteFallback)
    {
        if (vocab.Count == 0)
            throw new FormatException("the Unigram vocabulary is empty");
        if (unkId is { } u && u >= vocab.Count)
            throw new FormatException($"unk_id {u} is outside the vocabulary");
        _vocab = vocab;
        _unkId = unkId;
        _byteFallback = byteFallback;
        _ids = new Dictionary<string, int>(vocab.Count, StringComparer.Ordinal);
        _minScore = double.MaxValue;
        for (int id = 0; id < vocab.Count; id++)
        {
            var (piece, score) = vocab[id];
            _ids.TryAdd(piece, id);
            _minScore = Math.Min(_minScore, score);
            var node = _root;
            foreach (char c in piece)
            {
                node.Children ??= [];
                if (!node.Children.TryGetValue(c, out var child))
                    node.Children[c] = child = new TrieNode();
                node = child;
            }
            if (node.Id < 0)
                node.Id = id;
        }
    }

    public string Name => "Unigram";

    public int Size => _vocab.Count;

    public int? TokenToId(string token) => _ids.TryGetValue(token, out int id) ? id : null;

    public string? IdToToken(int id) => id >= 0 && id < _vocab.Count ? _vocab[id].Piece : null;

    public void Tokenize(string sentence, List<int> ids, List<string>? tokens)
    {
        foreach (string piece in Encode(sentence))
        {
            if (_ids.TryGetValue(piece, out int id))
            {
                ids.Add(id);
                tokens?.Add(piece);
                continue;
            }
            if (_byteFallback)
            {
                byte[] bytes = Encoding.UTF8.GetBytes(piece);
                var byteIds = bytes.Select(b => _ids.TryGetValue($"<0x{b:X2}>", out int bid) ? bid : -1).ToList();
                if (byteIds.All(b => b >= 0))
                {
                    ids.AddRange(byteIds);
                    tokens?.AddRange(bytes.Select(b => $"<0x{b:X2}>"));
                    continue;
                }
            }
            ids.Add(_unkId ?? throw new InvalidOperationException("the Unigram model has no unk_id for a piece it cannot spell"));
            tokens?.Add(piece);
        }
    }

    private List<string> Encode(string sentence)
    {
        var result = new List<string>();
        int size = sentence.Length;
        if (size == 0)
            return result;
        double unkScore = _minScore - UnknownPenalty;
        var score = new double[size + 1];
        var startsAt = new int[size + 1];
        var nodeId = new int[size + 1];
        Array.Fill(startsAt, -1);
        for (int start = 0; start < size;)
        {
            double here = score[start];
            int charLength = char.IsHighSurrogate(sentence[start]) && start + 1 < size && char.IsLowSurrogate(sentence[start + 1]) ? 2 : 1;
            bool hasSingle = false;
            var node = _root;
            for (int k = start; k < size && node.Children is not null && node.Children.TryGetValue(sentence[k], out var child); k++)
            {
                node = child;
                if (node.Id < 0)
                    continue;
                int end = k + 1;
                double candidate = _vocab[node.Id].Score + here;
                if (startsAt[end] < 0 || candidate > score[end])
                {
                    score[end] = candidate;
                    startsAt[end] = start;
                    nodeId[end] = node.Id;
                }
                if (end - start == charLength)
                    hasSingle = true;
            }
            if (!hasSingle)
            {
                int end = start + charLength;
                double candidate = unkScore + here;
                if (startsAt[end] < 0 || candidate > score[end])
                {
                    score[end] = candidate;
                    startsAt[end] = start;
                    nodeId[end] = _unkId ?? throw new InvalidOperationException("the Unigram model has no unk_id for a character it cannot spell");
                }
            }
            start += charLength;
        }
        var unknownRun = new List<string>();
        for (int end = size; end > 0;)
        {
            int start = startsAt[end];
            string piece = sentence[start..end];
            if (_unkId is { } unk && nodeId[end] == unk)
            {
                unknownRun.Add(piece);
            }
            else
            {
                if (unknownRun.Count > 0)
                {
                    unknownRun.Reverse();
                    result.Add(string.Concat(unknownRun));
                    unknownRun.Clear();
                }
                result.Add(piece);
            }
            end = start;
        }
        if (unknownRun.Count > 0)
        {
            unknownRun.Reverse();
            result.Add(string.Concat(unknownRun));
        }
        result.Reverse();
        return result;
    }
}
