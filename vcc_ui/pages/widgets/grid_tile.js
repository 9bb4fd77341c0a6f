// One tile of an image grid (vcc_ui/pages/widgets/grid_tile.py), rendered here from its props: one NiceGUI element
// per tile instead of one per part. A click on the thumbnail (or Enter on it) reaches the element's click listener;
// the box and the extra controls in the slot keep their clicks to themselves.
export default {
  template: `
    <div class="relative rounded overflow-hidden bg-slate-200 aspect-square">
      <img
        :src="src"
        :alt="alt"
        loading="lazy"
        tabindex="0"
        role="button"
        data-role="image-thumb"
        class="w-full h-full object-cover cursor-pointer"
        @keydown.enter="$emit('click')"
      />
      <div v-if="selectable" class="absolute top-1 left-1 bg-white/80 rounded" @click.stop>
        <q-checkbox
          :model-value="ticked"
          dense
          color="primary"
          data-role="image-select"
          @update:model-value="tick"
        />
      </div>
      <q-icon
        v-if="favorite"
        name="star"
        size="sm"
        class="absolute top-1 right-1 text-amber-400 drop-shadow"
        data-role="image-favorite"
      />
      <div
        v-if="trash"
        class="absolute bottom-0 inset-x-0 bg-black/65 text-white text-[11px] leading-tight px-1"
        data-role="trash-dates"
        @click.stop
      >{{ trash }}</div>
      <div class="contents" @click.stop><slot></slot></div>
    </div>
  `,
  props: {
    src: String,
    alt: String,
    selectable: Boolean,
    selected: Boolean,
    favorite: Boolean,
    trash: String,
  },
  data() {
    return { ticked: this.selected };
  },
  watch: {
    selected(value) {
      this.ticked = value;
    },
  },
  methods: {
    tick(value) {
      this.ticked = value;
      this.$emit("select", value);
    },
  },
};
