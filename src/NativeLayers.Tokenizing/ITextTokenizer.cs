namespace NativeLayers.Tokenizing;

/// <summary>Turns text into token ids and back, for one model's vocabulary.</summary>
public interface ITextTokenizer
{
    /// <summary>One line for humans, e.g. "SentencePiece BPE (tokenizer.model), 512 pieces, adds BOS".</summary>
    string Description { get; }

    /// <summary>One more than the largest token id the tokenizer knows.</summary>
    int VocabSize { get; }

    int? BosId { get; }

    int? EosId { get; }

    /// <summary>Whether <see cref="Encode(string)"/> puts <see cref="BosId"/> first.</summary>
    bool AddsBos { get; }

    /// <summary>Same as <c>Encode(text, addSpecialTokens: true)</c>.</summary>
    int[] Encode(string text);

    /// <summary>Encodes text; with <paramref name="addSpecialTokens"/> the tokenizer's BOS (and EOS, where configured) are added.</summary>
    int[] Encode(string text, bool addSpecialTokens);

    /// <summary>Decodes ids to text, skipping special tokens (BOS, EOS, padding, unknown) and ids the tokenizer does not know.</summary>
    string Decode(IReadOnlyList<int> ids);

    /// <summary>
    /// The text that <paramref name="newIds"/> add after <paramref name="prefixIds"/>: Decode(prefix + new) minus Decode(prefix).
    /// An incomplete UTF-8 character at the end (a byte token still waiting for the rest of its bytes) is held back
    /// until a later call completes it, so calling this token by token and concatenating gives the decoded text.
    /// </summary>
    string DecodeContinuation(IReadOnlyList<int> prefixIds, IReadOnlyList<int> newIds);

    /// <summary>The raw vocabulary piece of an id, for display (e.g. "▁Once", "&lt;0x0A&gt;", "Ġworld"); "&lt;id N?&gt;" for an unknown id.</summary>
    string TokenText(int id);
}
