// One tile of the admin's all-images grid (vcc_ui/pages/widgets/admin_image_tile.py), drawn here from its props:
// the thumbnail links the file; owner (the full id as a native title), date, size, kind badges; the delete or
// restore button, whose click is the element's click.
export default {
  template: `
    <div class="q-card nicegui-card nicegui-card-tight w-full min-w-0" :class="{ 'opacity-70': trashed }">
      <a :href="href" target="_blank" class="block w-full">
        <img :src="src" :alt="alt" loading="lazy" class="w-full aspect-square object-cover bg-slate-100" />
      </a>
      <div class="truncate w-full text-gray-600 text-xs px-2 pt-2" :title="ownerId" data-role="image-owner">
        {{ owner }}
      </div>
      <div class="w-full text-xs text-gray-500 px-2">{{ when }}</div>
      <div class="flex flex-row w-full items-center gap-1 no-wrap text-xs px-2 pb-2">
        <q-badge outline color="grey-7" :label="kind" />
        <q-badge v-if="trashed" color="grey-7" :label="trashLabel" />
        <div class="q-space"></div>
        <q-btn
          flat
          round
          dense
          :icon="actionIcon"
          :color="actionColor"
          :title="actionTitle"
          :aria-label="actionTitle"
          @click="$emit('click')"
        />
      </div>
    </div>
  `,
  props: {
    href: String,
    src: String,
    alt: String,
    owner: String,
    ownerId: String,
    when: String,
    kind: String,
    trashed: Boolean,
    trashLabel: String,
    actionIcon: String,
    actionTitle: String,
    actionColor: String,
  },
  emits: ["click"],
};
