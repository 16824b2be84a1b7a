// Package routing decides which agent gets which conversation.
//
// It is pure Go with no I/O of its own: the signaling server feeds it facts
// (agents, their status and presence, site rules, conversations that want an
// agent, conversations that ended) and it answers with events (Assigned,
// Offered, QueuePositions, Offline, ...). Time comes from an injected clock,
// so every rule is testable without sleeping.
//
// The pieces, from the bottom up:
//
//   - Match is a pure function: one Request, the agents, the site's Rules and
//     the current time in; a Decision (agent, relaxation Level, Translate flag
//     and a human-readable reason) out.
//   - MatchPage and Choice are a site's entry rules: which skill or team a
//     conversation needs from the page it starts on or the visitor's
//     pre-chat choice.
//   - Schedule says whether a site is inside its business hours, in the
//     site's own time zone.
//   - Queue is the waiting line of one workspace: fair order (priority, then
//     arrival), positions and estimated waits, recomputed per eligibility
//     class so that an event touches only the visitors it affects.
//   - Assigner is the atomic compare-and-set the Engine calls before it
//     commits an assignment. MemoryAssigner is the in-process one (tests
//     and benchmarks); the signaling server's is conversation's
//     storeAssigner, one store transaction per claim on SQLite and
//     PostgreSQL alike (store.Scoped.Claim, Move, Unassign).
//   - Engine ties them together per workspace, behind one mutex per
//     workspace: Enqueue, SetAgent, SetStatus, Connected/Disconnected,
//     Release, Transfer, Accept/Decline, Tick.
//
// Correctness promises (tested under -race with concurrent arrivals and
// agents changing status): a conversation has at most one owner, it is never
// assigned twice, and no agent is ever given more conversations than its
// capacity. The in-memory state is a cache of the store; the Assigner is the
// authority, so two engines on two nodes racing for the same agent cannot
// both win.
//
// # Wiring it into the signaling server
//
// One Engine per process, built with routing.New(Config{Assigner: ...,
// OnEvent: ...}); package conversation does this with the store's
// assigner. With several signaling nodes, only the node holding a
// workspace's lease (conversation.Lease, on Redis) queues and assigns that
// workspace's conversations; the others forward to it over the bus. Then:
//
//   - at start: SetRules for every site, SetAgent for every agent, Adopt
//     every open conversation, Enqueue every queued one (with its original
//     EnqueuedAt);
//   - agent signs in / opens a tab / closes a tab: SetAgent (profile and
//     chosen status), Connected, Disconnected; status frame: SetStatus;
//   - visitor starts a conversation: Enqueue; ErrOffline → offline form;
//     language detected or pre-chat skill chosen: Update;
//   - conversation closed (close it in the store first) or visitor gone:
//     Release;
//   - agent answers an offer: Accept / Decline; transfer or supervisor
//     reassignment: Transfer;
//   - a ticker calls Tick about once a second;
//   - OnEvent hands events to a goroutine (a buffered channel) that turns
//     them into frames and store updates: Assigned → conversation frame
//     (status open, agent) to visitor and agents; Offered / OfferEnded →
//     the agent; QueuePositions → a queue frame per visitor; Offline → the
//     widget's offline form; AgentStatusChanged → persist the agent's status
//     if Reason says the engine set it (missed offers) and tell the
//     dashboard; Relaxed, Transferred, Requeued → system messages and logs.
//
// The store's assigner has written the conversation's agent and status by
// the time Assigned, Transferred or Requeued arrives: the event goroutine
// announces, it does not persist. (With MemoryAssigner nothing is written.)
package routing
