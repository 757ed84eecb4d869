from wamd.proto import common_pb2 as _common_pb2
from wamd.proto import adv_pb2 as _adv_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HistorySyncType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INITIAL_BOOTSTRAP: _ClassVar[HistorySyncType]
    INITIAL_STATUS_V3: _ClassVar[HistorySyncType]
    FULL: _ClassVar[HistorySyncType]
    RECENT: _ClassVar[HistorySyncType]
    PUSH_NAME: _ClassVar[HistorySyncType]
    NON_BLOCKING_DATA: _ClassVar[HistorySyncType]
    ON_DEMAND: _ClassVar[HistorySyncType]
    NO_HISTORY: _ClassVar[HistorySyncType]
    MESSAGE_ACCESS_STATUS: _ClassVar[HistorySyncType]
INITIAL_BOOTSTRAP: HistorySyncType
INITIAL_STATUS_V3: HistorySyncType
FULL: HistorySyncType
RECENT: HistorySyncType
PUSH_NAME: HistorySyncType
NON_BLOCKING_DATA: HistorySyncType
ON_DEMAND: HistorySyncType
NO_HISTORY: HistorySyncType
MESSAGE_ACCESS_STATUS: HistorySyncType

class Message(_message.Message):
    __slots__ = ("conversation", "senderKeyDistributionMessage", "imageMessage", "contactMessage", "locationMessage", "extendedTextMessage", "documentMessage", "audioMessage", "videoMessage", "protocolMessage", "contactsArrayMessage", "fastRatchetKeySenderKeyDistributionMessage", "stickerMessage", "deviceSentMessage", "messageContextInfo", "viewOnceMessage", "ephemeralMessage", "reactionMessage", "pollCreationMessage", "pollUpdateMessage", "documentWithCaptionMessage", "viewOnceMessageV2", "editedMessage", "viewOnceMessageV2Extension", "pollCreationMessageV2", "pollCreationMessageV3", "ptvMessage", "placeholderMessage")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    SENDERKEYDISTRIBUTIONMESSAGE_FIELD_NUMBER: _ClassVar[int]
    IMAGEMESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONTACTMESSAGE_FIELD_NUMBER: _ClassVar[int]
    LOCATIONMESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXTENDEDTEXTMESSAGE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTMESSAGE_FIELD_NUMBER: _ClassVar[int]
    AUDIOMESSAGE_FIELD_NUMBER: _ClassVar[int]
    VIDEOMESSAGE_FIELD_NUMBER: _ClassVar[int]
    PROTOCOLMESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONTACTSARRAYMESSAGE_FIELD_NUMBER: _ClassVar[int]
    FASTRATCHETKEYSENDERKEYDISTRIBUTIONMESSAGE_FIELD_NUMBER: _ClassVar[int]
    STICKERMESSAGE_FIELD_NUMBER: _ClassVar[int]
    DEVICESENTMESSAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGECONTEXTINFO_FIELD_NUMBER: _ClassVar[int]
    VIEWONCEMESSAGE_FIELD_NUMBER: _ClassVar[int]
    EPHEMERALMESSAGE_FIELD_NUMBER: _ClassVar[int]
    REACTIONMESSAGE_FIELD_NUMBER: _ClassVar[int]
    POLLCREATIONMESSAGE_FIELD_NUMBER: _ClassVar[int]
    POLLUPDATEMESSAGE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTWITHCAPTIONMESSAGE_FIELD_NUMBER: _ClassVar[int]
    VIEWONCEMESSAGEV2_FIELD_NUMBER: _ClassVar[int]
    EDITEDMESSAGE_FIELD_NUMBER: _ClassVar[int]
    VIEWONCEMESSAGEV2EXTENSION_FIELD_NUMBER: _ClassVar[int]
    POLLCREATIONMESSAGEV2_FIELD_NUMBER: _ClassVar[int]
    POLLCREATIONMESSAGEV3_FIELD_NUMBER: _ClassVar[int]
    PTVMESSAGE_FIELD_NUMBER: _ClassVar[int]
    PLACEHOLDERMESSAGE_FIELD_NUMBER: _ClassVar[int]
    conversation: str
    senderKeyDistributionMessage: SenderKeyDistributionMessage
    imageMessage: ImageMessage
    contactMessage: ContactMessage
    locationMessage: LocationMessage
    extendedTextMessage: ExtendedTextMessage
    documentMessage: DocumentMessage
    audioMessage: AudioMessage
    videoMessage: VideoMessage
    protocolMessage: ProtocolMessage
    contactsArrayMessage: ContactsArrayMessage
    fastRatchetKeySenderKeyDistributionMessage: SenderKeyDistributionMessage
    stickerMessage: StickerMessage
    deviceSentMessage: DeviceSentMessage
    messageContextInfo: MessageContextInfo
    viewOnceMessage: FutureProofMessage
    ephemeralMessage: FutureProofMessage
    reactionMessage: ReactionMessage
    pollCreationMessage: PollCreationMessage
    pollUpdateMessage: PollUpdateMessage
    documentWithCaptionMessage: FutureProofMessage
    viewOnceMessageV2: FutureProofMessage
    editedMessage: FutureProofMessage
    viewOnceMessageV2Extension: FutureProofMessage
    pollCreationMessageV2: PollCreationMessage
    pollCreationMessageV3: PollCreationMessage
    ptvMessage: VideoMessage
    placeholderMessage: PlaceholderMessage
    def __init__(self, conversation: _Optional[str] = ..., senderKeyDistributionMessage: _Optional[_Union[SenderKeyDistributionMessage, _Mapping]] = ..., imageMessage: _Optional[_Union[ImageMessage, _Mapping]] = ..., contactMessage: _Optional[_Union[ContactMessage, _Mapping]] = ..., locationMessage: _Optional[_Union[LocationMessage, _Mapping]] = ..., extendedTextMessage: _Optional[_Union[ExtendedTextMessage, _Mapping]] = ..., documentMessage: _Optional[_Union[DocumentMessage, _Mapping]] = ..., audioMessage: _Optional[_Union[AudioMessage, _Mapping]] = ..., videoMessage: _Optional[_Union[VideoMessage, _Mapping]] = ..., protocolMessage: _Optional[_Union[ProtocolMessage, _Mapping]] = ..., contactsArrayMessage: _Optional[_Union[ContactsArrayMessage, _Mapping]] = ..., fastRatchetKeySenderKeyDistributionMessage: _Optional[_Union[SenderKeyDistributionMessage, _Mapping]] = ..., stickerMessage: _Optional[_Union[StickerMessage, _Mapping]] = ..., deviceSentMessage: _Optional[_Union[DeviceSentMessage, _Mapping]] = ..., messageContextInfo: _Optional[_Union[MessageContextInfo, _Mapping]] = ..., viewOnceMessage: _Optional[_Union[FutureProofMessage, _Mapping]] = ..., ephemeralMessage: _Optional[_Union[FutureProofMessage, _Mapping]] = ..., reactionMessage: _Optional[_Union[ReactionMessage, _Mapping]] = ..., pollCreationMessage: _Optional[_Union[PollCreationMessage, _Mapping]] = ..., pollUpdateMessage: _Optional[_Union[PollUpdateMessage, _Mapping]] = ..., documentWithCaptionMessage: _Optional[_Union[FutureProofMessage, _Mapping]] = ..., viewOnceMessageV2: _Optional[_Union[FutureProofMessage, _Mapping]] = ..., editedMessage: _Optional[_Union[FutureProofMessage, _Mapping]] = ..., viewOnceMessageV2Extension: _Optional[_Union[FutureProofMessage, _Mapping]] = ..., pollCreationMessageV2: _Optional[_Union[PollCreationMessage, _Mapping]] = ..., pollCreationMessageV3: _Optional[_Union[PollCreationMessage, _Mapping]] = ..., ptvMessage: _Optional[_Union[VideoMessage, _Mapping]] = ..., placeholderMessage: _Optional[_Union[PlaceholderMessage, _Mapping]] = ...) -> None: ...

class FutureProofMessage(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: Message
    def __init__(self, message: _Optional[_Union[Message, _Mapping]] = ...) -> None: ...

class SenderKeyDistributionMessage(_message.Message):
    __slots__ = ("groupID", "axolotlSenderKeyDistributionMessage")
    GROUPID_FIELD_NUMBER: _ClassVar[int]
    AXOLOTLSENDERKEYDISTRIBUTIONMESSAGE_FIELD_NUMBER: _ClassVar[int]
    groupID: str
    axolotlSenderKeyDistributionMessage: bytes
    def __init__(self, groupID: _Optional[str] = ..., axolotlSenderKeyDistributionMessage: _Optional[bytes] = ...) -> None: ...

class DeviceSentMessage(_message.Message):
    __slots__ = ("destinationJID", "message", "phash")
    DESTINATIONJID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PHASH_FIELD_NUMBER: _ClassVar[int]
    destinationJID: str
    message: Message
    phash: str
    def __init__(self, destinationJID: _Optional[str] = ..., message: _Optional[_Union[Message, _Mapping]] = ..., phash: _Optional[str] = ...) -> None: ...

class MessageContextInfo(_message.Message):
    __slots__ = ("deviceListMetadata", "deviceListMetadataVersion", "messageSecret", "paddingBytes", "messageAddOnDurationInSecs", "botMessageSecret", "reportingTokenVersion", "messageAddOnExpiryType", "capiCreatedGroup", "supportPayload", "associatedPrimaryIdentityKey")
    class MessageAddonExpiryType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATIC: _ClassVar[MessageContextInfo.MessageAddonExpiryType]
        DEPENDENT_ON_PARENT: _ClassVar[MessageContextInfo.MessageAddonExpiryType]
    STATIC: MessageContextInfo.MessageAddonExpiryType
    DEPENDENT_ON_PARENT: MessageContextInfo.MessageAddonExpiryType
    DEVICELISTMETADATA_FIELD_NUMBER: _ClassVar[int]
    DEVICELISTMETADATAVERSION_FIELD_NUMBER: _ClassVar[int]
    MESSAGESECRET_FIELD_NUMBER: _ClassVar[int]
    PADDINGBYTES_FIELD_NUMBER: _ClassVar[int]
    MESSAGEADDONDURATIONINSECS_FIELD_NUMBER: _ClassVar[int]
    BOTMESSAGESECRET_FIELD_NUMBER: _ClassVar[int]
    REPORTINGTOKENVERSION_FIELD_NUMBER: _ClassVar[int]
    MESSAGEADDONEXPIRYTYPE_FIELD_NUMBER: _ClassVar[int]
    CAPICREATEDGROUP_FIELD_NUMBER: _ClassVar[int]
    SUPPORTPAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ASSOCIATEDPRIMARYIDENTITYKEY_FIELD_NUMBER: _ClassVar[int]
    deviceListMetadata: DeviceListMetadata
    deviceListMetadataVersion: int
    messageSecret: bytes
    paddingBytes: bytes
    messageAddOnDurationInSecs: int
    botMessageSecret: bytes
    reportingTokenVersion: int
    messageAddOnExpiryType: MessageContextInfo.MessageAddonExpiryType
    capiCreatedGroup: bool
    supportPayload: str
    associatedPrimaryIdentityKey: bytes
    def __init__(self, deviceListMetadata: _Optional[_Union[DeviceListMetadata, _Mapping]] = ..., deviceListMetadataVersion: _Optional[int] = ..., messageSecret: _Optional[bytes] = ..., paddingBytes: _Optional[bytes] = ..., messageAddOnDurationInSecs: _Optional[int] = ..., botMessageSecret: _Optional[bytes] = ..., reportingTokenVersion: _Optional[int] = ..., messageAddOnExpiryType: _Optional[_Union[MessageContextInfo.MessageAddonExpiryType, str]] = ..., capiCreatedGroup: _Optional[bool] = ..., supportPayload: _Optional[str] = ..., associatedPrimaryIdentityKey: _Optional[bytes] = ...) -> None: ...

class DeviceListMetadata(_message.Message):
    __slots__ = ("senderKeyHash", "senderTimestamp", "senderKeyIndexes", "senderAccountType", "receiverAccountType", "recipientKeyHash", "recipientTimestamp", "recipientKeyIndexes")
    SENDERKEYHASH_FIELD_NUMBER: _ClassVar[int]
    SENDERTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SENDERKEYINDEXES_FIELD_NUMBER: _ClassVar[int]
    SENDERACCOUNTTYPE_FIELD_NUMBER: _ClassVar[int]
    RECEIVERACCOUNTTYPE_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTKEYHASH_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTKEYINDEXES_FIELD_NUMBER: _ClassVar[int]
    senderKeyHash: bytes
    senderTimestamp: int
    senderKeyIndexes: _containers.RepeatedScalarFieldContainer[int]
    senderAccountType: _adv_pb2.ADVEncryptionType
    receiverAccountType: _adv_pb2.ADVEncryptionType
    recipientKeyHash: bytes
    recipientTimestamp: int
    recipientKeyIndexes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, senderKeyHash: _Optional[bytes] = ..., senderTimestamp: _Optional[int] = ..., senderKeyIndexes: _Optional[_Iterable[int]] = ..., senderAccountType: _Optional[_Union[_adv_pb2.ADVEncryptionType, str]] = ..., receiverAccountType: _Optional[_Union[_adv_pb2.ADVEncryptionType, str]] = ..., recipientKeyHash: _Optional[bytes] = ..., recipientTimestamp: _Optional[int] = ..., recipientKeyIndexes: _Optional[_Iterable[int]] = ...) -> None: ...

class ContextInfo(_message.Message):
    __slots__ = ("stanzaID", "participant", "quotedMessage", "remoteJID", "mentionedJID", "conversionSource", "conversionData", "conversionDelaySeconds", "forwardingScore", "isForwarded", "placeholderKey", "expiration", "ephemeralSettingTimestamp", "ephemeralSharedSecret", "entryPointConversionSource", "entryPointConversionApp", "entryPointConversionDelaySeconds", "disappearingMode", "groupSubject", "parentGroupJID", "trustBannerType", "trustBannerAction", "isSampled")
    class ForwardOrigin(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[ContextInfo.ForwardOrigin]
        CHAT: _ClassVar[ContextInfo.ForwardOrigin]
        STATUS: _ClassVar[ContextInfo.ForwardOrigin]
        CHANNELS: _ClassVar[ContextInfo.ForwardOrigin]
        META_AI: _ClassVar[ContextInfo.ForwardOrigin]
        UGC: _ClassVar[ContextInfo.ForwardOrigin]
    UNKNOWN: ContextInfo.ForwardOrigin
    CHAT: ContextInfo.ForwardOrigin
    STATUS: ContextInfo.ForwardOrigin
    CHANNELS: ContextInfo.ForwardOrigin
    META_AI: ContextInfo.ForwardOrigin
    UGC: ContextInfo.ForwardOrigin
    STANZAID_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    QUOTEDMESSAGE_FIELD_NUMBER: _ClassVar[int]
    REMOTEJID_FIELD_NUMBER: _ClassVar[int]
    MENTIONEDJID_FIELD_NUMBER: _ClassVar[int]
    CONVERSIONSOURCE_FIELD_NUMBER: _ClassVar[int]
    CONVERSIONDATA_FIELD_NUMBER: _ClassVar[int]
    CONVERSIONDELAYSECONDS_FIELD_NUMBER: _ClassVar[int]
    FORWARDINGSCORE_FIELD_NUMBER: _ClassVar[int]
    ISFORWARDED_FIELD_NUMBER: _ClassVar[int]
    PLACEHOLDERKEY_FIELD_NUMBER: _ClassVar[int]
    EXPIRATION_FIELD_NUMBER: _ClassVar[int]
    EPHEMERALSETTINGTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    EPHEMERALSHAREDSECRET_FIELD_NUMBER: _ClassVar[int]
    ENTRYPOINTCONVERSIONSOURCE_FIELD_NUMBER: _ClassVar[int]
    ENTRYPOINTCONVERSIONAPP_FIELD_NUMBER: _ClassVar[int]
    ENTRYPOINTCONVERSIONDELAYSECONDS_FIELD_NUMBER: _ClassVar[int]
    DISAPPEARINGMODE_FIELD_NUMBER: _ClassVar[int]
    GROUPSUBJECT_FIELD_NUMBER: _ClassVar[int]
    PARENTGROUPJID_FIELD_NUMBER: _ClassVar[int]
    TRUSTBANNERTYPE_FIELD_NUMBER: _ClassVar[int]
    TRUSTBANNERACTION_FIELD_NUMBER: _ClassVar[int]
    ISSAMPLED_FIELD_NUMBER: _ClassVar[int]
    stanzaID: str
    participant: str
    quotedMessage: Message
    remoteJID: str
    mentionedJID: _containers.RepeatedScalarFieldContainer[str]
    conversionSource: str
    conversionData: bytes
    conversionDelaySeconds: int
    forwardingScore: int
    isForwarded: bool
    placeholderKey: _common_pb2.MessageKey
    expiration: int
    ephemeralSettingTimestamp: int
    ephemeralSharedSecret: bytes
    entryPointConversionSource: str
    entryPointConversionApp: str
    entryPointConversionDelaySeconds: int
    disappearingMode: DisappearingMode
    groupSubject: str
    parentGroupJID: str
    trustBannerType: str
    trustBannerAction: int
    isSampled: bool
    def __init__(self, stanzaID: _Optional[str] = ..., participant: _Optional[str] = ..., quotedMessage: _Optional[_Union[Message, _Mapping]] = ..., remoteJID: _Optional[str] = ..., mentionedJID: _Optional[_Iterable[str]] = ..., conversionSource: _Optional[str] = ..., conversionData: _Optional[bytes] = ..., conversionDelaySeconds: _Optional[int] = ..., forwardingScore: _Optional[int] = ..., isForwarded: _Optional[bool] = ..., placeholderKey: _Optional[_Union[_common_pb2.MessageKey, _Mapping]] = ..., expiration: _Optional[int] = ..., ephemeralSettingTimestamp: _Optional[int] = ..., ephemeralSharedSecret: _Optional[bytes] = ..., entryPointConversionSource: _Optional[str] = ..., entryPointConversionApp: _Optional[str] = ..., entryPointConversionDelaySeconds: _Optional[int] = ..., disappearingMode: _Optional[_Union[DisappearingMode, _Mapping]] = ..., groupSubject: _Optional[str] = ..., parentGroupJID: _Optional[str] = ..., trustBannerType: _Optional[str] = ..., trustBannerAction: _Optional[int] = ..., isSampled: _Optional[bool] = ...) -> None: ...

class ExtendedTextMessage(_message.Message):
    __slots__ = ("text", "matchedText", "description", "title", "textArgb", "backgroundArgb", "font", "previewType", "JPEGThumbnail", "contextInfo", "doNotPlayInline", "thumbnailDirectPath", "thumbnailSHA256", "thumbnailEncSHA256", "mediaKey", "mediaKeyTimestamp", "thumbnailHeight", "thumbnailWidth", "inviteLinkGroupType", "viewOnce")
    class PreviewType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        NONE: _ClassVar[ExtendedTextMessage.PreviewType]
        VIDEO: _ClassVar[ExtendedTextMessage.PreviewType]
        PLACEHOLDER: _ClassVar[ExtendedTextMessage.PreviewType]
        IMAGE: _ClassVar[ExtendedTextMessage.PreviewType]
        PAYMENT_LINKS: _ClassVar[ExtendedTextMessage.PreviewType]
        PROFILE: _ClassVar[ExtendedTextMessage.PreviewType]
    NONE: ExtendedTextMessage.PreviewType
    VIDEO: ExtendedTextMessage.PreviewType
    PLACEHOLDER: ExtendedTextMessage.PreviewType
    IMAGE: ExtendedTextMessage.PreviewType
    PAYMENT_LINKS: ExtendedTextMessage.PreviewType
    PROFILE: ExtendedTextMessage.PreviewType
    class FontType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SYSTEM: _ClassVar[ExtendedTextMessage.FontType]
        SYSTEM_TEXT: _ClassVar[ExtendedTextMessage.FontType]
        FB_SCRIPT: _ClassVar[ExtendedTextMessage.FontType]
        SYSTEM_BOLD: _ClassVar[ExtendedTextMessage.FontType]
        MORNINGBREEZE_REGULAR: _ClassVar[ExtendedTextMessage.FontType]
        CALISTOGA_REGULAR: _ClassVar[ExtendedTextMessage.FontType]
        EXO2_EXTRABOLD: _ClassVar[ExtendedTextMessage.FontType]
        COURIERPRIME_BOLD: _ClassVar[ExtendedTextMessage.FontType]
    SYSTEM: ExtendedTextMessage.FontType
    SYSTEM_TEXT: ExtendedTextMessage.FontType
    FB_SCRIPT: ExtendedTextMessage.FontType
    SYSTEM_BOLD: ExtendedTextMessage.FontType
    MORNINGBREEZE_REGULAR: ExtendedTextMessage.FontType
    CALISTOGA_REGULAR: ExtendedTextMessage.FontType
    EXO2_EXTRABOLD: ExtendedTextMessage.FontType
    COURIERPRIME_BOLD: ExtendedTextMessage.FontType
    class InviteLinkGroupType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        DEFAULT: _ClassVar[ExtendedTextMessage.InviteLinkGroupType]
        PARENT: _ClassVar[ExtendedTextMessage.InviteLinkGroupType]
        SUB: _ClassVar[ExtendedTextMessage.InviteLinkGroupType]
        DEFAULT_SUB: _ClassVar[ExtendedTextMessage.InviteLinkGroupType]
    DEFAULT: ExtendedTextMessage.InviteLinkGroupType
    PARENT: ExtendedTextMessage.InviteLinkGroupType
    SUB: ExtendedTextMessage.InviteLinkGroupType
    DEFAULT_SUB: ExtendedTextMessage.InviteLinkGroupType
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MATCHEDTEXT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TEXTARGB_FIELD_NUMBER: _ClassVar[int]
    BACKGROUNDARGB_FIELD_NUMBER: _ClassVar[int]
    FONT_FIELD_NUMBER: _ClassVar[int]
    PREVIEWTYPE_FIELD_NUMBER: _ClassVar[int]
    JPEGTHUMBNAIL_FIELD_NUMBER: _ClassVar[int]
    CONTEXTINFO_FIELD_NUMBER: _ClassVar[int]
    DONOTPLAYINLINE_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILDIRECTPATH_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILSHA256_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILENCSHA256_FIELD_NUMBER: _ClassVar[int]
    MEDIAKEY_FIELD_NUMBER: _ClassVar[int]
    MEDIAKEYTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILHEIGHT_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILWIDTH_FIELD_NUMBER: _ClassVar[int]
    INVITELINKGROUPTYPE_FIELD_NUMBER: _ClassVar[int]
    VIEWONCE_FIELD_NUMBER: _ClassVar[int]
    text: str
    matchedText: str
    description: str
    title: str
    textArgb: int
    backgroundArgb: int
    font: ExtendedTextMessage.FontType
    previewType: ExtendedTextMessage.PreviewType
    JPEGThumbnail: bytes
    contextInfo: ContextInfo
    doNotPlayInline: bool
    thumbnailDirectPath: str
    thumbnailSHA256: bytes
    thumbnailEncSHA256: bytes
    mediaKey: bytes
    mediaKeyTimestamp: int
    thumbnailHeight: int
    thumbnailWidth: int
    inviteLinkGroupType: ExtendedTextMessage.InviteLinkGroupType
    viewOnce: bool
    def __init__(self, text: _Optional[str] = ..., matchedText: _Optional[str] = ..., description: _Optional[str] = ..., title: _Optional[str] = ..., textArgb: _Optional[int] = ..., backgroundArgb: _Optional[int] = ..., font: _Optional[_Union[ExtendedTextMessage.FontType, str]] = ..., previewType: _Optional[_Union[ExtendedTextMessage.PreviewType, str]] = ..., JPEGThumbnail: _Optional[bytes] = ..., contextInfo: _Optional[_Union[ContextInfo, _Mapping]] = ..., doNotPlayInline: _Optional[bool] = ..., thumbnailDirectPath: _Optional[str] = ..., thumbnailSHA256: _Optional[bytes] = ..., thumbnailEncSHA256: _Optional[bytes] = ..., mediaKey: _Optional[bytes] = ..., mediaKeyTimestamp: _Optional[int] = ..., thumbnailHeight: _Optional[int] = ..., thumbnailWidth: _Optional[int] = ..., inviteLinkGroupType: _Optional[_Union[ExtendedTextMessage.InviteLinkGroupType, str]] = ..., viewOnce: _Optional[bool] = ...) -> None: ...

class ImageMessage(_message.Message):
    __slots__ = ("URL", "mimetype", "caption", "fileSHA256", "fileLength", "height", "width", "mediaKey", "fileEncSHA256", "directPath", "mediaKeyTimestamp", "JPEGThumbnail", "contextInfo", "firstScanSidecar", "firstScanLength", "experimentGroupID", "scansSidecar", "scanLengths", "midQualityFileSHA256", "midQualityFileEncSHA256", "viewOnce", "thumbnailDirectPath", "thumbnailSHA256", "thumbnailEncSHA256", "staticURL", "accessibilityLabel")
    URL_FIELD_NUMBER: _ClassVar[int]
    MIMETYPE_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    FILESHA256_FIELD_NUMBER: _ClassVar[int]
    FILELENGTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    MEDIAKEY_FIELD_NUMBER: _ClassVar[int]
    FILEENCSHA256_FIELD_NUMBER: _ClassVar[int]
    DIRECTPATH_FIELD_NUMBER: _ClassVar[int]
    MEDIAKEYTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    JPEGTHUMBNAIL_FIELD_NUMBER: _ClassVar[int]
    CONTEXTINFO_FIELD_NUMBER: _ClassVar[int]
    FIRSTSCANSIDECAR_FIELD_NUMBER: _ClassVar[int]
    FIRSTSCANLENGTH_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENTGROUPID_FIELD_NUMBER: _ClassVar[int]
    SCANSSIDECAR_FIELD_NUMBER: _ClassVar[int]
    SCANLENGTHS_FIELD_NUMBER: _ClassVar[int]
    MIDQUALITYFILESHA256_FIELD_NUMBER: _ClassVar[int]
    MIDQUALITYFILEENCSHA256_FIELD_NUMBER: _ClassVar[int]
    VIEWONCE_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILDIRECTPATH_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILSHA256_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILENCSHA256_FIELD_NUMBER: _ClassVar[int]
    STATICURL_FIELD_NUMBER: _ClassVar[int]
    ACCESSIBILITYLABEL_FIELD_NUMBER: _ClassVar[int]
    URL: str
    mimetype: str
    caption: str
    fileSHA256: bytes
    fileLength: int
    height: int
    width: int
    mediaKey: bytes
    fileEncSHA256: bytes
    directPath: str
    mediaKeyTimestamp: int
    JPEGThumbnail: bytes
    contextInfo: ContextInfo
    firstScanSidecar: bytes
    firstScanLength: int
    experimentGroupID: int
    scansSidecar: bytes
    scanLengths: _containers.RepeatedScalarFieldContainer[int]
    midQualityFileSHA256: bytes
    midQualityFileEncSHA256: bytes
    viewOnce: bool
    thumbnailDirectPath: str
    thumbnailSHA256: bytes
    thumbnailEncSHA256: bytes
    staticURL: str
    accessibilityLabel: str
    def __init__(self, URL: _Optional[str] = ..., mimetype: _Optional[str] = ..., caption: _Optional[str] = ..., fileSHA256: _Optional[bytes] = ..., fileLength: _Optional[int] = ..., height: _Optional[int] = ..., width: _Optional[int] = ..., mediaKey: _Optional[bytes] = ..., fileEncSHA256: _Optional[bytes] = ..., directPath: _Optional[str] = ..., mediaKeyTimestamp: _Optional[int] = ..., JPEGThumbnail: _Optional[bytes] = ..., contextInfo: _Optional[_Union[ContextInfo, _Mapping]] = ..., firstScanSidecar: _Optional[bytes] = ..., firstScanLength: _Optional[int] = ..., experimentGroupID: _Optional[int] = ..., scansSidecar: _Optional[bytes] = ..., scanLengths: _Optional[_Iterable[int]] = ..., midQualityFileSHA256: _Optional[bytes] = ..., midQualityFileEncSHA256: _Optional[bytes] = ..., viewOnce: _Optional[bool] = ..., thumbnailDirectPath: _Optional[str] = ..., thumbnailSHA256: _Optional[bytes] = ..., thumbnailEncSHA256: _Optional[bytes] = ..., staticURL: _Optional[str] = ..., accessibilityLabel: _Optional[str] = ...) -> None: ...

class VideoMessage(_message.Message):
    __slots__ = ("URL", "mimetype", "fileSHA256", "fileLength", "seconds", "mediaKey", "caption", "gifPlayback", "height", "width", "fileEncSHA256", "directPath", "mediaKeyTimestamp", "JPEGThumbnail", "contextInfo", "streamingSidecar", "gifAttribution", "viewOnce", "thumbnailDirectPath", "thumbnailSHA256", "thumbnailEncSHA256", "staticURL", "accessibilityLabel")
    class Attribution(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        NONE: _ClassVar[VideoMessage.Attribution]
        GIPHY: _ClassVar[VideoMessage.Attribution]
        TENOR: _ClassVar[VideoMessage.Attribution]
        KLIPY: _ClassVar[VideoMessage.Attribution]
    NONE: VideoMessage.Attribution
    GIPHY: VideoMessage.Attribution
    TENOR: VideoMessage.Attribution
    KLIPY: VideoMessage.Attribution
    URL_FIELD_NUMBER: _ClassVar[int]
    MIMETYPE_FIELD_NUMBER: _ClassVar[int]
    FILESHA256_FIELD_NUMBER: _ClassVar[int]
    FILELENGTH_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    MEDIAKEY_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    GIFPLAYBACK_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    FILEENCSHA256_FIELD_NUMBER: _ClassVar[int]
    DIRECTPATH_FIELD_NUMBER: _ClassVar[int]
    MEDIAKEYTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    JPEGTHUMBNAIL_FIELD_NUMBER: _ClassVar[int]
    CONTEXTINFO_FIELD_NUMBER: _ClassVar[int]
    STREAMINGSIDECAR_FIELD_NUMBER: _ClassVar[int]
    GIFATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    VIEWONCE_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILDIRECTPATH_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILSHA256_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILENCSHA256_FIELD_NUMBER: _ClassVar[int]
    STATICURL_FIELD_NUMBER: _ClassVar[int]
    ACCESSIBILITYLABEL_FIELD_NUMBER: _ClassVar[int]
    URL: str
    mimetype: str
    fileSHA256: bytes
    fileLength: int
    seconds: int
    mediaKey: bytes
    caption: str
    gifPlayback: bool
    height: int
    width: int
    fileEncSHA256: bytes
    directPath: str
    mediaKeyTimestamp: int
    JPEGThumbnail: bytes
    contextInfo: ContextInfo
    streamingSidecar: bytes
    gifAttribution: VideoMessage.Attribution
    viewOnce: bool
    thumbnailDirectPath: str
    thumbnailSHA256: bytes
    thumbnailEncSHA256: bytes
    staticURL: str
    accessibilityLabel: str
    def __init__(self, URL: _Optional[str] = ..., mimetype: _Optional[str] = ..., fileSHA256: _Optional[bytes] = ..., fileLength: _Optional[int] = ..., seconds: _Optional[int] = ..., mediaKey: _Optional[bytes] = ..., caption: _Optional[str] = ..., gifPlayback: _Optional[bool] = ..., height: _Optional[int] = ..., width: _Optional[int] = ..., fileEncSHA256: _Optional[bytes] = ..., directPath: _Optional[str] = ..., mediaKeyTimestamp: _Optional[int] = ..., JPEGThumbnail: _Optional[bytes] = ..., contextInfo: _Optional[_Union[ContextInfo, _Mapping]] = ..., streamingSidecar: _Optional[bytes] = ..., gifAttribution: _Optional[_Union[VideoMessage.Attribution, str]] = ..., viewOnce: _Optional[bool] = ..., thumbnailDirectPath: _Optional[str] = ..., thumbnailSHA256: _Optional[bytes] = ..., thumbnailEncSHA256: _Optional[bytes] = ..., staticURL: _Optional[str] = ..., accessibilityLabel: _Optional[str] = ...) -> None: ...

class AudioMessage(_message.Message):
    __slots__ = ("URL", "mimetype", "fileSHA256", "fileLength", "seconds", "PTT", "mediaKey", "fileEncSHA256", "directPath", "mediaKeyTimestamp", "contextInfo", "streamingSidecar", "waveform", "backgroundArgb", "viewOnce", "accessibilityLabel")
    URL_FIELD_NUMBER: _ClassVar[int]
    MIMETYPE_FIELD_NUMBER: _ClassVar[int]
    FILESHA256_FIELD_NUMBER: _ClassVar[int]
    FILELENGTH_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    PTT_FIELD_NUMBER: _ClassVar[int]
    MEDIAKEY_FIELD_NUMBER: _ClassVar[int]
    FILEENCSHA256_FIELD_NUMBER: _ClassVar[int]
    DIRECTPATH_FIELD_NUMBER: _ClassVar[int]
    MEDIAKEYTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CONTEXTINFO_FIELD_NUMBER: _ClassVar[int]
    STREAMINGSIDECAR_FIELD_NUMBER: _ClassVar[int]
    WAVEFORM_FIELD_NUMBER: _ClassVar[int]
    BACKGROUNDARGB_FIELD_NUMBER: _ClassVar[int]
    VIEWONCE_FIELD_NUMBER: _ClassVar[int]
    ACCESSIBILITYLABEL_FIELD_NUMBER: _ClassVar[int]
    URL: str
    mimetype: str
    fileSHA256: bytes
    fileLength: int
    seconds: int
    PTT: bool
    mediaKey: bytes
    fileEncSHA256: bytes
    directPath: str
    mediaKeyTimestamp: int
    contextInfo: ContextInfo
    streamingSidecar: bytes
    waveform: bytes
    backgroundArgb: int
    viewOnce: bool
    accessibilityLabel: str
    def __init__(self, URL: _Optional[str] = ..., mimetype: _Optional[str] = ..., fileSHA256: _Optional[bytes] = ..., fileLength: _Optional[int] = ..., seconds: _Optional[int] = ..., PTT: _Optional[bool] = ..., mediaKey: _Optional[bytes] = ..., fileEncSHA256: _Optional[bytes] = ..., directPath: _Optional[str] = ..., mediaKeyTimestamp: _Optional[int] = ..., contextInfo: _Optional[_Union[ContextInfo, _Mapping]] = ..., streamingSidecar: _Optional[bytes] = ..., waveform: _Optional[bytes] = ..., backgroundArgb: _Optional[int] = ..., viewOnce: _Optional[bool] = ..., accessibilityLabel: _Optional[str] = ...) -> None: ...

class DocumentMessage(_message.Message):
    __slots__ = ("URL", "mimetype", "title", "fileSHA256", "fileLength", "pageCount", "mediaKey", "fileName", "fileEncSHA256", "directPath", "mediaKeyTimestamp", "contactVcard", "thumbnailDirectPath", "thumbnailSHA256", "thumbnailEncSHA256", "JPEGThumbnail", "contextInfo", "thumbnailHeight", "thumbnailWidth", "caption", "accessibilityLabel")
    URL_FIELD_NUMBER: _ClassVar[int]
    MIMETYPE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    FILESHA256_FIELD_NUMBER: _ClassVar[int]
    FILELENGTH_FIELD_NUMBER: _ClassVar[int]
    PAGECOUNT_FIELD_NUMBER: _ClassVar[int]
    MEDIAKEY_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    FILEENCSHA256_FIELD_NUMBER: _ClassVar[int]
    DIRECTPATH_FIELD_NUMBER: _ClassVar[int]
    MEDIAKEYTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CONTACTVCARD_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILDIRECTPATH_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILSHA256_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILENCSHA256_FIELD_NUMBER: _ClassVar[int]
    JPEGTHUMBNAIL_FIELD_NUMBER: _ClassVar[int]
    CONTEXTINFO_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILHEIGHT_FIELD_NUMBER: _ClassVar[int]
    THUMBNAILWIDTH_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    ACCESSIBILITYLABEL_FIELD_NUMBER: _ClassVar[int]
    URL: str
    mimetype: str
    title: str
    fileSHA256: bytes
    fileLength: int
    pageCount: int
    mediaKey: bytes
    fileName: str
    fileEncSHA256: bytes
    directPath: str
    mediaKeyTimestamp: int
    contactVcard: bool
    thumbnailDirectPath: str
    thumbnailSHA256: bytes
    thumbnailEncSHA256: bytes
    JPEGThumbnail: bytes
    contextInfo: ContextInfo
    thumbnailHeight: int
    thumbnailWidth: int
    caption: str
    accessibilityLabel: str
    def __init__(self, URL: _Optional[str] = ..., mimetype: _Optional[str] = ..., title: _Optional[str] = ..., fileSHA256: _Optional[bytes] = ..., fileLength: _Optional[int] = ..., pageCount: _Optional[int] = ..., mediaKey: _Optional[bytes] = ..., fileName: _Optional[str] = ..., fileEncSHA256: _Optional[bytes] = ..., directPath: _Optional[str] = ..., mediaKeyTimestamp: _Optional[int] = ..., contactVcard: _Optional[bool] = ..., thumbnailDirectPath: _Optional[str] = ..., thumbnailSHA256: _Optional[bytes] = ..., thumbnailEncSHA256: _Optional[bytes] = ..., JPEGThumbnail: _Optional[bytes] = ..., contextInfo: _Optional[_Union[ContextInfo, _Mapping]] = ..., thumbnailHeight: _Optional[int] = ..., thumbnailWidth: _Optional[int] = ..., caption: _Optional[str] = ..., accessibilityLabel: _Optional[str] = ...) -> None: ...

class StickerMessage(_message.Message):
    __slots__ = ("URL", "fileSHA256", "fileEncSHA256", "mediaKey", "mimetype", "height", "width", "directPath", "fileLength", "mediaKeyTimestamp", "firstFrameLength", "firstFrameSidecar", "isAnimated", "pngThumbnail", "contextInfo", "stickerSentTS", "isAvatar", "isAiSticker", "isLottie", "accessibilityLabel")
    URL_FIELD_NUMBER: _ClassVar[int]
    FILESHA256_FIELD_NUMBER: _ClassVar[int]
    FILEENCSHA256_FIELD_NUMBER: _ClassVar[int]
    MEDIAKEY_FIELD_NUMBER: _ClassVar[int]
    MIMETYPE_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    DIRECTPATH_FIELD_NUMBER: _ClassVar[int]
    FILELENGTH_FIELD_NUMBER: _ClassVar[int]
    MEDIAKEYTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    FIRSTFRAMELENGTH_FIELD_NUMBER: _ClassVar[int]
    FIRSTFRAMESIDECAR_FIELD_NUMBER: _ClassVar[int]
    ISANIMATED_FIELD_NUMBER: _ClassVar[int]
    PNGTHUMBNAIL_FIELD_NUMBER: _ClassVar[int]
    CONTEXTINFO_FIELD_NUMBER: _ClassVar[int]
    STICKERSENTTS_FIELD_NUMBER: _ClassVar[int]
    ISAVATAR_FIELD_NUMBER: _ClassVar[int]
    ISAISTICKER_FIELD_NUMBER: _ClassVar[int]
    ISLOTTIE_FIELD_NUMBER: _ClassVar[int]
    ACCESSIBILITYLABEL_FIELD_NUMBER: _ClassVar[int]
    URL: str
    fileSHA256: bytes
    fileEncSHA256: bytes
    mediaKey: bytes
    mimetype: str
    height: int
    width: int
    directPath: str
    fileLength: int
    mediaKeyTimestamp: int
    firstFrameLength: int
    firstFrameSidecar: bytes
    isAnimated: bool
    pngThumbnail: bytes
    contextInfo: ContextInfo
    stickerSentTS: int
    isAvatar: bool
    isAiSticker: bool
    isLottie: bool
    accessibilityLabel: str
    def __init__(self, URL: _Optional[str] = ..., fileSHA256: _Optional[bytes] = ..., fileEncSHA256: _Optional[bytes] = ..., mediaKey: _Optional[bytes] = ..., mimetype: _Optional[str] = ..., height: _Optional[int] = ..., width: _Optional[int] = ..., directPath: _Optional[str] = ..., fileLength: _Optional[int] = ..., mediaKeyTimestamp: _Optional[int] = ..., firstFrameLength: _Optional[int] = ..., firstFrameSidecar: _Optional[bytes] = ..., isAnimated: _Optional[bool] = ..., pngThumbnail: _Optional[bytes] = ..., contextInfo: _Optional[_Union[ContextInfo, _Mapping]] = ..., stickerSentTS: _Optional[int] = ..., isAvatar: _Optional[bool] = ..., isAiSticker: _Optional[bool] = ..., isLottie: _Optional[bool] = ..., accessibilityLabel: _Optional[str] = ...) -> None: ...

class ContactMessage(_message.Message):
    __slots__ = ("displayName", "vcard", "contextInfo", "isSelfContact")
    DISPLAYNAME_FIELD_NUMBER: _ClassVar[int]
    VCARD_FIELD_NUMBER: _ClassVar[int]
    CONTEXTINFO_FIELD_NUMBER: _ClassVar[int]
    ISSELFCONTACT_FIELD_NUMBER: _ClassVar[int]
    displayName: str
    vcard: str
    contextInfo: ContextInfo
    isSelfContact: bool
    def __init__(self, displayName: _Optional[str] = ..., vcard: _Optional[str] = ..., contextInfo: _Optional[_Union[ContextInfo, _Mapping]] = ..., isSelfContact: _Optional[bool] = ...) -> None: ...

class LocationMessage(_message.Message):
    __slots__ = ("degreesLatitude", "degreesLongitude", "name", "address", "URL", "isLive", "accuracyInMeters", "speedInMps", "degreesClockwiseFromMagneticNorth", "comment", "JPEGThumbnail", "contextInfo")
    DEGREESLATITUDE_FIELD_NUMBER: _ClassVar[int]
    DEGREESLONGITUDE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    ISLIVE_FIELD_NUMBER: _ClassVar[int]
    ACCURACYINMETERS_FIELD_NUMBER: _ClassVar[int]
    SPEEDINMPS_FIELD_NUMBER: _ClassVar[int]
    DEGREESCLOCKWISEFROMMAGNETICNORTH_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    JPEGTHUMBNAIL_FIELD_NUMBER: _ClassVar[int]
    CONTEXTINFO_FIELD_NUMBER: _ClassVar[int]
    degreesLatitude: float
    degreesLongitude: float
    name: str
    address: str
    URL: str
    isLive: bool
    accuracyInMeters: int
    speedInMps: float
    degreesClockwiseFromMagneticNorth: int
    comment: str
    JPEGThumbnail: bytes
    contextInfo: ContextInfo
    def __init__(self, degreesLatitude: _Optional[float] = ..., degreesLongitude: _Optional[float] = ..., name: _Optional[str] = ..., address: _Optional[str] = ..., URL: _Optional[str] = ..., isLive: _Optional[bool] = ..., accuracyInMeters: _Optional[int] = ..., speedInMps: _Optional[float] = ..., degreesClockwiseFromMagneticNorth: _Optional[int] = ..., comment: _Optional[str] = ..., JPEGThumbnail: _Optional[bytes] = ..., contextInfo: _Optional[_Union[ContextInfo, _Mapping]] = ...) -> None: ...

class ReactionMessage(_message.Message):
    __slots__ = ("key", "text", "groupingKey", "senderTimestampMS")
    KEY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    GROUPINGKEY_FIELD_NUMBER: _ClassVar[int]
    SENDERTIMESTAMPMS_FIELD_NUMBER: _ClassVar[int]
    key: _common_pb2.MessageKey
    text: str
    groupingKey: str
    senderTimestampMS: int
    def __init__(self, key: _Optional[_Union[_common_pb2.MessageKey, _Mapping]] = ..., text: _Optional[str] = ..., groupingKey: _Optional[str] = ..., senderTimestampMS: _Optional[int] = ...) -> None: ...

class PollCreationMessage(_message.Message):
    __slots__ = ("encKey", "name", "options", "selectableOptionsCount", "contextInfo")
    class Option(_message.Message):
        __slots__ = ("optionName", "optionHash")
        OPTIONNAME_FIELD_NUMBER: _ClassVar[int]
        OPTIONHASH_FIELD_NUMBER: _ClassVar[int]
        optionName: str
        optionHash: str
        def __init__(self, optionName: _Optional[str] = ..., optionHash: _Optional[str] = ...) -> None: ...
    ENCKEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    SELECTABLEOPTIONSCOUNT_FIELD_NUMBER: _ClassVar[int]
    CONTEXTINFO_FIELD_NUMBER: _ClassVar[int]
    encKey: bytes
    name: str
    options: _containers.RepeatedCompositeFieldContainer[PollCreationMessage.Option]
    selectableOptionsCount: int
    contextInfo: ContextInfo
    def __init__(self, encKey: _Optional[bytes] = ..., name: _Optional[str] = ..., options: _Optional[_Iterable[_Union[PollCreationMessage.Option, _Mapping]]] = ..., selectableOptionsCount: _Optional[int] = ..., contextInfo: _Optional[_Union[ContextInfo, _Mapping]] = ...) -> None: ...

class PollUpdateMessage(_message.Message):
    __slots__ = ("pollCreationMessageKey", "vote", "metadata", "senderTimestampMS")
    POLLCREATIONMESSAGEKEY_FIELD_NUMBER: _ClassVar[int]
    VOTE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SENDERTIMESTAMPMS_FIELD_NUMBER: _ClassVar[int]
    pollCreationMessageKey: _common_pb2.MessageKey
    vote: PollEncValue
    metadata: PollUpdateMessageMetadata
    senderTimestampMS: int
    def __init__(self, pollCreationMessageKey: _Optional[_Union[_common_pb2.MessageKey, _Mapping]] = ..., vote: _Optional[_Union[PollEncValue, _Mapping]] = ..., metadata: _Optional[_Union[PollUpdateMessageMetadata, _Mapping]] = ..., senderTimestampMS: _Optional[int] = ...) -> None: ...

class PollUpdateMessageMetadata(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PollEncValue(_message.Message):
    __slots__ = ("encPayload", "encIV")
    ENCPAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ENCIV_FIELD_NUMBER: _ClassVar[int]
    encPayload: bytes
    encIV: bytes
    def __init__(self, encPayload: _Optional[bytes] = ..., encIV: _Optional[bytes] = ...) -> None: ...

class PollVoteMessage(_message.Message):
    __slots__ = ("selectedOptions",)
    SELECTEDOPTIONS_FIELD_NUMBER: _ClassVar[int]
    selectedOptions: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, selectedOptions: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ContactsArrayMessage(_message.Message):
    __slots__ = ("displayName", "contacts", "contextInfo")
    DISPLAYNAME_FIELD_NUMBER: _ClassVar[int]
    CONTACTS_FIELD_NUMBER: _ClassVar[int]
    CONTEXTINFO_FIELD_NUMBER: _ClassVar[int]
    displayName: str
    contacts: _containers.RepeatedCompositeFieldContainer[ContactMessage]
    contextInfo: ContextInfo
    def __init__(self, displayName: _Optional[str] = ..., contacts: _Optional[_Iterable[_Union[ContactMessage, _Mapping]]] = ..., contextInfo: _Optional[_Union[ContextInfo, _Mapping]] = ...) -> None: ...

class PlaceholderMessage(_message.Message):
    __slots__ = ("type",)
    class PlaceholderType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        MASK_LINKED_DEVICES: _ClassVar[PlaceholderMessage.PlaceholderType]
    MASK_LINKED_DEVICES: PlaceholderMessage.PlaceholderType
    TYPE_FIELD_NUMBER: _ClassVar[int]
    type: PlaceholderMessage.PlaceholderType
    def __init__(self, type: _Optional[_Union[PlaceholderMessage.PlaceholderType, str]] = ...) -> None: ...

class DisappearingMode(_message.Message):
    __slots__ = ("initiator", "trigger", "initiatorDeviceJID", "initiatedByMe")
    class Initiator(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        CHANGED_IN_CHAT: _ClassVar[DisappearingMode.Initiator]
        INITIATED_BY_ME: _ClassVar[DisappearingMode.Initiator]
        INITIATED_BY_OTHER: _ClassVar[DisappearingMode.Initiator]
        BIZ_UPGRADE_FB_HOSTING: _ClassVar[DisappearingMode.Initiator]
    CHANGED_IN_CHAT: DisappearingMode.Initiator
    INITIATED_BY_ME: DisappearingMode.Initiator
    INITIATED_BY_OTHER: DisappearingMode.Initiator
    BIZ_UPGRADE_FB_HOSTING: DisappearingMode.Initiator
    class Trigger(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[DisappearingMode.Trigger]
        CHAT_SETTING: _ClassVar[DisappearingMode.Trigger]
        ACCOUNT_SETTING: _ClassVar[DisappearingMode.Trigger]
        BULK_CHANGE: _ClassVar[DisappearingMode.Trigger]
        BIZ_SUPPORTS_FB_HOSTING: _ClassVar[DisappearingMode.Trigger]
        UNKNOWN_GROUPS: _ClassVar[DisappearingMode.Trigger]
    UNKNOWN: DisappearingMode.Trigger
    CHAT_SETTING: DisappearingMode.Trigger
    ACCOUNT_SETTING: DisappearingMode.Trigger
    BULK_CHANGE: DisappearingMode.Trigger
    BIZ_SUPPORTS_FB_HOSTING: DisappearingMode.Trigger
    UNKNOWN_GROUPS: DisappearingMode.Trigger
    INITIATOR_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    INITIATORDEVICEJID_FIELD_NUMBER: _ClassVar[int]
    INITIATEDBYME_FIELD_NUMBER: _ClassVar[int]
    initiator: DisappearingMode.Initiator
    trigger: DisappearingMode.Trigger
    initiatorDeviceJID: str
    initiatedByMe: bool
    def __init__(self, initiator: _Optional[_Union[DisappearingMode.Initiator, str]] = ..., trigger: _Optional[_Union[DisappearingMode.Trigger, str]] = ..., initiatorDeviceJID: _Optional[str] = ..., initiatedByMe: _Optional[bool] = ...) -> None: ...

class ProtocolMessage(_message.Message):
    __slots__ = ("key", "type", "ephemeralExpiration", "ephemeralSettingTimestamp", "historySyncNotification", "appStateSyncKeyShare", "appStateSyncKeyRequest", "disappearingMode", "editedMessage", "timestampMS", "invokerJID")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        REVOKE: _ClassVar[ProtocolMessage.Type]
        EPHEMERAL_SETTING: _ClassVar[ProtocolMessage.Type]
        EPHEMERAL_SYNC_RESPONSE: _ClassVar[ProtocolMessage.Type]
        HISTORY_SYNC_NOTIFICATION: _ClassVar[ProtocolMessage.Type]
        APP_STATE_SYNC_KEY_SHARE: _ClassVar[ProtocolMessage.Type]
        APP_STATE_SYNC_KEY_REQUEST: _ClassVar[ProtocolMessage.Type]
        MSG_FANOUT_BACKFILL_REQUEST: _ClassVar[ProtocolMessage.Type]
        INITIAL_SECURITY_NOTIFICATION_SETTING_SYNC: _ClassVar[ProtocolMessage.Type]
        APP_STATE_FATAL_EXCEPTION_NOTIFICATION: _ClassVar[ProtocolMessage.Type]
        SHARE_PHONE_NUMBER: _ClassVar[ProtocolMessage.Type]
        MESSAGE_EDIT: _ClassVar[ProtocolMessage.Type]
        PEER_DATA_OPERATION_REQUEST_MESSAGE: _ClassVar[ProtocolMessage.Type]
        PEER_DATA_OPERATION_REQUEST_RESPONSE_MESSAGE: _ClassVar[ProtocolMessage.Type]
        REQUEST_WELCOME_MESSAGE: _ClassVar[ProtocolMessage.Type]
        BOT_FEEDBACK_MESSAGE: _ClassVar[ProtocolMessage.Type]
        MEDIA_NOTIFY_MESSAGE: _ClassVar[ProtocolMessage.Type]
        CLOUD_API_THREAD_CONTROL_NOTIFICATION: _ClassVar[ProtocolMessage.Type]
        LID_MIGRATION_MAPPING_SYNC: _ClassVar[ProtocolMessage.Type]
        REMINDER_MESSAGE: _ClassVar[ProtocolMessage.Type]
        BOT_MEMU_ONBOARDING_MESSAGE: _ClassVar[ProtocolMessage.Type]
        STATUS_MENTION_MESSAGE: _ClassVar[ProtocolMessage.Type]
        STOP_GENERATION_MESSAGE: _ClassVar[ProtocolMessage.Type]
        LIMIT_SHARING: _ClassVar[ProtocolMessage.Type]
        AI_PSI_METADATA: _ClassVar[ProtocolMessage.Type]
        AI_QUERY_FANOUT: _ClassVar[ProtocolMessage.Type]
        GROUP_MEMBER_LABEL_CHANGE: _ClassVar[ProtocolMessage.Type]
        AI_MEDIA_COLLECTION_MESSAGE: _ClassVar[ProtocolMessage.Type]
        MESSAGE_UNSCHEDULE: _ClassVar[ProtocolMessage.Type]
        CHAT_THEME_SETTING: _ClassVar[ProtocolMessage.Type]
        AI_METADATA_OPERATION: _ClassVar[ProtocolMessage.Type]
        MARK_AS_VERIFIED_ACTION: _ClassVar[ProtocolMessage.Type]
        COEX_STATE_SYNC: _ClassVar[ProtocolMessage.Type]
    REVOKE: ProtocolMessage.Type
    EPHEMERAL_SETTING: ProtocolMessage.Type
    EPHEMERAL_SYNC_RESPONSE: ProtocolMessage.Type
    HISTORY_SYNC_NOTIFICATION: ProtocolMessage.Type
    APP_STATE_SYNC_KEY_SHARE: ProtocolMessage.Type
    APP_STATE_SYNC_KEY_REQUEST: ProtocolMessage.Type
    MSG_FANOUT_BACKFILL_REQUEST: ProtocolMessage.Type
    INITIAL_SECURITY_NOTIFICATION_SETTING_SYNC: ProtocolMessage.Type
    APP_STATE_FATAL_EXCEPTION_NOTIFICATION: ProtocolMessage.Type
    SHARE_PHONE_NUMBER: ProtocolMessage.Type
    MESSAGE_EDIT: ProtocolMessage.Type
    PEER_DATA_OPERATION_REQUEST_MESSAGE: ProtocolMessage.Type
    PEER_DATA_OPERATION_REQUEST_RESPONSE_MESSAGE: ProtocolMessage.Type
    REQUEST_WELCOME_MESSAGE: ProtocolMessage.Type
    BOT_FEEDBACK_MESSAGE: ProtocolMessage.Type
    MEDIA_NOTIFY_MESSAGE: ProtocolMessage.Type
    CLOUD_API_THREAD_CONTROL_NOTIFICATION: ProtocolMessage.Type
    LID_MIGRATION_MAPPING_SYNC: ProtocolMessage.Type
    REMINDER_MESSAGE: ProtocolMessage.Type
    BOT_MEMU_ONBOARDING_MESSAGE: ProtocolMessage.Type
    STATUS_MENTION_MESSAGE: ProtocolMessage.Type
    STOP_GENERATION_MESSAGE: ProtocolMessage.Type
    LIMIT_SHARING: ProtocolMessage.Type
    AI_PSI_METADATA: ProtocolMessage.Type
    AI_QUERY_FANOUT: ProtocolMessage.Type
    GROUP_MEMBER_LABEL_CHANGE: ProtocolMessage.Type
    AI_MEDIA_COLLECTION_MESSAGE: ProtocolMessage.Type
    MESSAGE_UNSCHEDULE: ProtocolMessage.Type
    CHAT_THEME_SETTING: ProtocolMessage.Type
    AI_METADATA_OPERATION: ProtocolMessage.Type
    MARK_AS_VERIFIED_ACTION: ProtocolMessage.Type
    COEX_STATE_SYNC: ProtocolMessage.Type
    KEY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    EPHEMERALEXPIRATION_FIELD_NUMBER: _ClassVar[int]
    EPHEMERALSETTINGTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    HISTORYSYNCNOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    APPSTATESYNCKEYSHARE_FIELD_NUMBER: _ClassVar[int]
    APPSTATESYNCKEYREQUEST_FIELD_NUMBER: _ClassVar[int]
    DISAPPEARINGMODE_FIELD_NUMBER: _ClassVar[int]
    EDITEDMESSAGE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPMS_FIELD_NUMBER: _ClassVar[int]
    INVOKERJID_FIELD_NUMBER: _ClassVar[int]
    key: _common_pb2.MessageKey
    type: ProtocolMessage.Type
    ephemeralExpiration: int
    ephemeralSettingTimestamp: int
    historySyncNotification: HistorySyncNotification
    appStateSyncKeyShare: AppStateSyncKeyShare
    appStateSyncKeyRequest: AppStateSyncKeyRequest
    disappearingMode: DisappearingMode
    editedMessage: Message
    timestampMS: int
    invokerJID: str
    def __init__(self, key: _Optional[_Union[_common_pb2.MessageKey, _Mapping]] = ..., type: _Optional[_Union[ProtocolMessage.Type, str]] = ..., ephemeralExpiration: _Optional[int] = ..., ephemeralSettingTimestamp: _Optional[int] = ..., historySyncNotification: _Optional[_Union[HistorySyncNotification, _Mapping]] = ..., appStateSyncKeyShare: _Optional[_Union[AppStateSyncKeyShare, _Mapping]] = ..., appStateSyncKeyRequest: _Optional[_Union[AppStateSyncKeyRequest, _Mapping]] = ..., disappearingMode: _Optional[_Union[DisappearingMode, _Mapping]] = ..., editedMessage: _Optional[_Union[Message, _Mapping]] = ..., timestampMS: _Optional[int] = ..., invokerJID: _Optional[str] = ...) -> None: ...

class HistorySyncNotification(_message.Message):
    __slots__ = ("fileSHA256", "fileLength", "mediaKey", "fileEncSHA256", "directPath", "syncType", "chunkOrder", "originalMessageID", "progress", "oldestMsgInChunkTimestampSec", "initialHistBootstrapInlinePayload", "peerDataRequestSessionID", "encHandle")
    FILESHA256_FIELD_NUMBER: _ClassVar[int]
    FILELENGTH_FIELD_NUMBER: _ClassVar[int]
    MEDIAKEY_FIELD_NUMBER: _ClassVar[int]
    FILEENCSHA256_FIELD_NUMBER: _ClassVar[int]
    DIRECTPATH_FIELD_NUMBER: _ClassVar[int]
    SYNCTYPE_FIELD_NUMBER: _ClassVar[int]
    CHUNKORDER_FIELD_NUMBER: _ClassVar[int]
    ORIGINALMESSAGEID_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    OLDESTMSGINCHUNKTIMESTAMPSEC_FIELD_NUMBER: _ClassVar[int]
    INITIALHISTBOOTSTRAPINLINEPAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PEERDATAREQUESTSESSIONID_FIELD_NUMBER: _ClassVar[int]
    ENCHANDLE_FIELD_NUMBER: _ClassVar[int]
    fileSHA256: bytes
    fileLength: int
    mediaKey: bytes
    fileEncSHA256: bytes
    directPath: str
    syncType: HistorySyncType
    chunkOrder: int
    originalMessageID: str
    progress: int
    oldestMsgInChunkTimestampSec: int
    initialHistBootstrapInlinePayload: bytes
    peerDataRequestSessionID: str
    encHandle: str
    def __init__(self, fileSHA256: _Optional[bytes] = ..., fileLength: _Optional[int] = ..., mediaKey: _Optional[bytes] = ..., fileEncSHA256: _Optional[bytes] = ..., directPath: _Optional[str] = ..., syncType: _Optional[_Union[HistorySyncType, str]] = ..., chunkOrder: _Optional[int] = ..., originalMessageID: _Optional[str] = ..., progress: _Optional[int] = ..., oldestMsgInChunkTimestampSec: _Optional[int] = ..., initialHistBootstrapInlinePayload: _Optional[bytes] = ..., peerDataRequestSessionID: _Optional[str] = ..., encHandle: _Optional[str] = ...) -> None: ...

class AppStateSyncKeyShare(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[AppStateSyncKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[AppStateSyncKey, _Mapping]]] = ...) -> None: ...

class AppStateSyncKeyRequest(_message.Message):
    __slots__ = ("keyIDs",)
    KEYIDS_FIELD_NUMBER: _ClassVar[int]
    keyIDs: _containers.RepeatedCompositeFieldContainer[AppStateSyncKeyId]
    def __init__(self, keyIDs: _Optional[_Iterable[_Union[AppStateSyncKeyId, _Mapping]]] = ...) -> None: ...

class AppStateSyncKey(_message.Message):
    __slots__ = ("keyID", "keyData")
    KEYID_FIELD_NUMBER: _ClassVar[int]
    KEYDATA_FIELD_NUMBER: _ClassVar[int]
    keyID: AppStateSyncKeyId
    keyData: AppStateSyncKeyData
    def __init__(self, keyID: _Optional[_Union[AppStateSyncKeyId, _Mapping]] = ..., keyData: _Optional[_Union[AppStateSyncKeyData, _Mapping]] = ...) -> None: ...

class AppStateSyncKeyId(_message.Message):
    __slots__ = ("keyID",)
    KEYID_FIELD_NUMBER: _ClassVar[int]
    keyID: bytes
    def __init__(self, keyID: _Optional[bytes] = ...) -> None: ...

class AppStateSyncKeyData(_message.Message):
    __slots__ = ("keyData", "fingerprint", "timestamp")
    KEYDATA_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    keyData: bytes
    fingerprint: AppStateSyncKeyFingerprint
    timestamp: int
    def __init__(self, keyData: _Optional[bytes] = ..., fingerprint: _Optional[_Union[AppStateSyncKeyFingerprint, _Mapping]] = ..., timestamp: _Optional[int] = ...) -> None: ...

class AppStateSyncKeyFingerprint(_message.Message):
    __slots__ = ("rawID", "currentIndex", "deviceIndexes")
    RAWID_FIELD_NUMBER: _ClassVar[int]
    CURRENTINDEX_FIELD_NUMBER: _ClassVar[int]
    DEVICEINDEXES_FIELD_NUMBER: _ClassVar[int]
    rawID: int
    currentIndex: int
    deviceIndexes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, rawID: _Optional[int] = ..., currentIndex: _Optional[int] = ..., deviceIndexes: _Optional[_Iterable[int]] = ...) -> None: ...
