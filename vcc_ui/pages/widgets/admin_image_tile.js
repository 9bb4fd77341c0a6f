// One tile of the admin's all-images grid (vcc_ui/pages/widgets/admin_image_tile.py), drawn here from its props:
// the thumbnail links the file; owner (the full id as a native title), date, size, kind badges; the delete or
// restore button comes in the slot.
export default {
  template: `
    <div class="q-card nicegui-card nicegui-card-tight w-full min-w-0" :class="{ 'opacity-70': trashed }">
      <a :href="href" target="_blank" class="block w-full">
        <img :src="src" :alt="alt" loading="lazy" class="w-full aspect-square object-cover bg-slate-100" />
      </a>
      <div class="truncate w-full text-gray-600 text-xs px-2 pt-2" :title="ownerId" data-role="image-owner">
        {{ owner }}
      </div>
      <div class="flex flex-row w-full items-end gap-1 no-wrap text-xs px-2 pb-2">
        <div class="min-w-0 grow">
          <div class="text-gray-500">{{ when }}</div>
          <div class="flex items-center gap-1 pt-1">
            <q-badge outline color="grey-7" :label="kind" />
            <q-badge v-if="trashed" color="grey-7" :label="trashLabel" />
          </div>
        </div>
        <slot></slot>
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
  },
};
