using NativeLayers.Loading;

namespace NativeLayers.Tokenizing.Chat;

/// <summary>
/// A chat template that cannot be rendered: a construct this renderer does not support, an error in the template,
/// or raise_exception(...) called by the template itself (it refuses the messages, e.g. roles that do not alternate).
/// </summary>
public sealed class ChatTemplateException(string message, bool raisedByTemplate = false) : NativeLayersException(message)
{
    public bool RaisedByTemplate { get; } = raisedByTemplate;
}
