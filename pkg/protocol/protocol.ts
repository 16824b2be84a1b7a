// Code generated from pkg/protocol by TestTypeScriptIsFresh -update. DO NOT EDIT.

export const VERSION = 1;
export const MAX_FRAME_BYTES = 32768;
export const MAX_BODY_BYTES = 8192;

export interface Author {
  kind: string;
  id: string;
  name: string;
}

export interface ConversationInfo {
  id: string;
  status: string;
  visitor_id: string;
  visitor_name: string;
  agent_id?: string;
  agent_name?: string;
  last_seq: number;
  created_at: string;
  updated_at: string;
  last_body?: string;
  language?: string;
  skill?: string;
  team?: string;
  priority?: number;
  transfer_note?: string;
  routing_summary?: string;
  contact_name?: string;
  visitor_presence?: string;
  visitor_seen_at?: string;
  contact_email?: string;
  state?: string;
  snoozed_until?: string;
  csat_rating?: number;
  csat_comment?: string;
  visitor_email?: string;
  visitor_phone?: string;
  visitor_fields?: Record<string, string>;
  visitor_read_seq?: number;
  agent_read_seq?: number;
}

export interface ICEServer {
  urls: string[];
  username?: string;
  credential?: string;
}

export interface PrechatField {
  kind: string;
  label?: string;
  required: boolean;
}

export interface AttachmentLimits {
  max_bytes: number;
  types: string[];
}

export interface WidgetLook {
  title: string;
  greeting: string;
  accent_color: string;
  launcher_position: string;
  show_avatars: boolean;
  visitor_calls: boolean;
  language: string;
  prechat_fields: PrechatField[];
  attachments: AttachmentLimits;
}

export interface NoteInfo {
  id: string;
  conversation: string;
  after_seq: number;
  author: Author;
  body: string;
  mentions: string[];
  created_at: string;
}

export interface Source {
  article_id: string;
  title: string;
  url: string;
}

export interface TranslationInfo {
  language: string;
  from: string;
  text: string;
  provider: string;
}

export interface Attachment {
  id: string;
  name: string;
  type: string;
  size: number;
  image?: boolean;
}

export interface HelloFrame {
  type: "hello";
  ref?: string;
  v: number;
  resume?: Record<string, number>;
}

export interface WelcomeFrame {
  type: "welcome";
  ref?: string;
  v: number;
  session: string;
  self: Author;
  status?: string;
  conversations: ConversationInfo[];
}

export interface ResumeFrame {
  type: "resume";
  ref?: string;
  conversations: Record<string, number>;
}

export interface SyncedFrame {
  type: "synced";
  ref?: string;
  conversation: string;
  seq: number;
}

export interface StartFrame {
  type: "start";
  ref?: string;
  trigger?: string;
}

export interface SendFrame {
  type: "send";
  ref?: string;
  client_id: string;
  conversation: string;
  body: string;
}

export interface AckFrame {
  type: "ack";
  ref?: string;
  client_id: string;
  conversation: string;
  seq: number;
}

export interface MessageFrame {
  type: "message";
  ref?: string;
  conversation: string;
  seq: number;
  client_id: string;
  author: Author;
  body: string;
  sent_at: string;
  audience?: string;
  sources?: Source[];
  translation?: TranslationInfo;
  attachment?: Attachment;
  notice?: string;
  args?: string[];
}

export interface TypingFrame {
  type: "typing";
  ref?: string;
  conversation: string;
  on: boolean;
  author?: Author;
}

export interface ConversationFrame {
  type: "conversation";
  ref?: string;
  conversation: ConversationInfo;
}

export interface QueueFrame {
  type: "queue";
  ref?: string;
  conversation: string;
  position: number;
  estimated_wait_seconds: number;
}

export interface StatusFrame {
  type: "status";
  ref?: string;
  status: string;
}

export interface CloseFrame {
  type: "close";
  ref?: string;
  conversation: string;
}

export interface ErrorFrame {
  type: "error";
  ref?: string;
  code: string;
  message: string;
  retryable?: boolean;
  retry_after_ms?: number;
}

export interface PingFrame {
  type: "ping";
  ref?: string;
}

export interface PongFrame {
  type: "pong";
  ref?: string;
}

export interface RTCStartFrame {
  type: "rtc_start";
  ref?: string;
  restart?: boolean;
}

export interface RTCOfferFrame {
  type: "rtc_offer";
  ref?: string;
  sdp: string;
  ice_servers: ICEServer[];
  ice_transport_policy?: string;
}

export interface RTCAnswerFrame {
  type: "rtc_answer";
  ref?: string;
  sdp: string;
}

export interface RTCCandidateFrame {
  type: "rtc_candidate";
  ref?: string;
  candidate: string;
  sdpMid?: string;
  sdpMLineIndex?: number;
  usernameFragment?: string;
}

export interface RTCStopFrame {
  type: "rtc_stop";
  ref?: string;
  reason?: string;
}

export interface OfferFrame {
  type: "offer";
  ref?: string;
  conversation: string;
  agent: string;
  expires_at: string;
  ended?: boolean;
  why?: string;
}

export interface OfflineFrame {
  type: "offline";
  ref?: string;
  conversation?: string;
  reason: string;
  reopens_at?: string;
}

export interface ResyncFrame {
  type: "resync";
  ref?: string;
  conversations: ConversationInfo[];
}

export interface TokenFrame {
  type: "token";
  ref?: string;
  token: string;
  expires_at: string;
}

export interface SiteFrame {
  type: "site";
  ref?: string;
  look: WidgetLook;
}

export interface CallFrame {
  type: "call";
  ref?: string;
  conversation: string;
  action: string;
  kind?: string;
  id?: string;
}

export interface CallStateFrame {
  type: "call_state";
  ref?: string;
  conversation: string;
  id: string;
  kind: string;
  state: string;
  caller: Author;
  incoming?: boolean;
  send?: string[];
  muted?: string[];
  reason?: string;
  by?: Author;
  expires_at?: string;
  started_at?: string;
  duration_seconds?: number;
}

export interface NoteFrame {
  type: "note";
  ref?: string;
  note: NoteInfo;
}

export interface AssistantDraftFrame {
  type: "assistant_draft";
  ref?: string;
  conversation: string;
  client_id: string;
  text: string;
}

export interface TranslationFrame {
  type: "translation";
  ref?: string;
  conversation: string;
  seq: number;
  for: string;
  translation: TranslationInfo;
}

export interface ReadFrame {
  type: "read";
  ref?: string;
  conversation: string;
  seq: number;
  side?: string;
}

export type Frame =
  | HelloFrame
  | WelcomeFrame
  | ResumeFrame
  | SyncedFrame
  | StartFrame
  | SendFrame
  | AckFrame
  | MessageFrame
  | TypingFrame
  | ConversationFrame
  | QueueFrame
  | StatusFrame
  | CloseFrame
  | ErrorFrame
  | PingFrame
  | PongFrame
  | RTCStartFrame
  | RTCOfferFrame
  | RTCAnswerFrame
  | RTCCandidateFrame
  | RTCStopFrame
  | OfferFrame
  | OfflineFrame
  | ResyncFrame
  | TokenFrame
  | SiteFrame
  | CallFrame
  | CallStateFrame
  | NoteFrame
  | AssistantDraftFrame
  | TranslationFrame
  | ReadFrame;

export const ErrorCodes = {
  BadJSON: "bad_json",
  CallUnavailable: "call_unavailable",
  Closed: "closed",
  Forbidden: "forbidden",
  Internal: "internal",
  Invalid: "invalid",
  NoHello: "no_hello",
  NotFound: "not_found",
  RateLimited: "rate_limited",
  TooBig: "too_big",
  Unavailable: "unavailable",
  UnknownType: "unknown_type",
  Version: "version",
} as const;
