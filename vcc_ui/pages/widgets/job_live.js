// One job's live part (step, bar, time left, queue position, preview), fed by the server's "vcc_job" socket
// messages: one message per change for every tab that shows the job (vcc_ui/pages/live.py JobFeed). Each state
// carries a sequence number; a part keeps the newest of its props and the messages, also one that arrived before
// the part was mounted.
const feed = { socket: null, states: {}, parts: new Set() };

function listen() {
  if (!window.socket || feed.socket === window.socket) return;
  feed.socket = window.socket;
  window.socket.on("vcc_job", (state) => {
    const known = feed.states[state.id];
    if (known && known.seq > state.seq) return;
    feed.states[state.id] = state;
    for (const part of feed.parts) if (part.state.id === state.id) part.take(state);
  });
}

export default {
  template: `
    <div v-if="layout === 'row'" class="column w-full">
      <q-linear-progress :value="live.progress" size="8px" rounded instant-feedback class="w-full" />
      <div class="text-xs text-gray-500 self-end" data-role="admin-job-step">{{ stepText }}</div>
    </div>
    <div v-else class="column w-full gap-1">
      <div class="nicegui-row w-full items-center gap-3 text-xs text-gray-600">
        <div v-if="live.position" data-role="job-position">{{ fill(texts.position, "n", live.position) }}</div>
        <div data-role="job-eta">{{ etaText }}</div>
        <div v-if="live.waiting" data-role="job-waiting">{{ texts.waiting }}</div>
        <div class="q-space"></div>
        <div data-role="job-step">{{ stepText }}</div>
      </div>
      <q-linear-progress :value="live.progress" size="8px" rounded instant-feedback class="w-full" />
      <img
        v-if="live.preview"
        :src="previewBase + live.preview"
        :alt="texts.preview"
        class="w-32 h-32 object-cover rounded self-center cursor-zoom-in"
        data-role="job-preview"
        tabindex="0"
        @click="$emit('zoom')"
        @keydown.enter="$emit('zoom')"
      />
    </div>
  `,
  props: {
    state: Object,
    layout: String,
    texts: Object,
    previewBase: String,
  },
  data() {
    const cached = feed.states[this.state.id];
    return { live: cached && cached.seq > this.state.seq ? cached : this.state };
  },
  computed: {
    stepText() {
      return this.live.steps ? `${this.live.step} / ${this.live.steps}` : "";
    },
    etaText() {
      const eta = this.live.eta;
      if (eta === null || eta === undefined) return "";
      const time =
        eta >= 60
          ? `${Math.floor(eta / 60)}:${String(eta % 60).padStart(2, "0")}`
          : this.fill(this.texts.seconds, "n", eta);
      return this.fill(this.texts.eta, "time", time);
    },
  },
  watch: {
    state(value) {
      this.take(value);
    },
  },
  mounted() {
    feed.parts.add(this);
    listen();
    setTimeout(listen, 0); // window.socket is made in the app's mounted(), after its children's
  },
  unmounted() {
    feed.parts.delete(this);
  },
  methods: {
    take(state) {
      if (state.seq >= this.live.seq) this.live = state;
    },
    fill(text, name, value) {
      return (text || "").replace(`{${name}}`, value);
    },
  },
};
